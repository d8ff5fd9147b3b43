"""The lake's lock: a lease object on S3 taken and kept with conditional writes (moto server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from batch.lake.lock import LakeBusyError, S3Lease, lake_lock, s3_lease
from batch.lake.tables import glue_lake
from tests.support.moto_server import moto_server

KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "eu-west-1"}
WAREHOUSE = "s3://lease-lake/lake"


@pytest.fixture
def s3() -> Iterator[Any]:
    with moto_server() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, **KEYS)
        client.create_bucket(Bucket="lease-lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        client.meta.endpoint = endpoint  # for the test that opens the lake by its settings
        yield client
        # moto servers in one process share their state: leave no bucket behind
        for item in client.list_objects_v2(Bucket="lease-lake").get("Contents", []):
            client.delete_object(Bucket="lease-lake", Key=item["Key"])
        client.delete_bucket(Bucket="lease-lake")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _lease_body(s3: Any) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket="lease-lake", Key="lake/_moodlens/lake.lease")["Body"].read()))


def test_one_holder_at_a_time_and_the_second_is_told_who(s3: Any) -> None:
    first, second = S3Lease(s3, WAREHOUSE, "batch compact"), S3Lease(s3, WAREHOUSE, "batch maintain")
    assert first.try_take() is None
    holder = second.try_take()
    assert holder is not None and holder["purpose"] == "batch compact" and holder["owner"] == first.owner
    with pytest.raises(LakeBusyError) as busy, s3_lease(second, wait_s=0.3):
        pass
    assert "batch compact" in str(busy.value) and "s3://lease-lake/lake/_moodlens/lake.lease" in str(busy.value)
    first.release()
    assert second.try_take() is None and _lease_body(s3)["owner"] == second.owner


def test_an_expired_lease_is_taken_over_and_its_old_holder_can_neither_renew_nor_delete_it(s3: Any) -> None:
    clock = Clock()
    stale = S3Lease(s3, WAREHOUSE, "killed task", ttl_s=60, clock=clock)
    assert stale.try_take() is None
    fresh = S3Lease(s3, WAREHOUSE, "next task", ttl_s=60, clock=clock)
    assert fresh.try_take() is not None  # still valid
    clock.now += 61
    assert fresh.try_take() is None  # expired: replaced only if unchanged since read (If-Match)
    assert stale.renew() is False and stale.lost
    stale.release()  # If-Match on its old ETag: refused, the new holder's lease stays
    assert _lease_body(s3)["owner"] == fresh.owner


def test_two_takers_of_one_expired_lease_cannot_both_win(s3: Any) -> None:
    clock = Clock()
    assert S3Lease(s3, WAREHOUSE, "killed task", ttl_s=60, clock=clock).try_take() is None
    clock.now += 61
    racers = [S3Lease(s3, WAREHOUSE, f"racer {i}", ttl_s=60, clock=clock) for i in range(2)]
    current = s3.get_object(Bucket="lease-lake", Key="lake/_moodlens/lake.lease")
    real_get = s3.get_object

    def both_read_before_either_writes(**kwargs: Any) -> Any:
        return current if kwargs.get("Key", "").endswith("lake.lease") else real_get(**kwargs)

    s3.get_object = both_read_before_either_writes
    outcomes = [racer.try_take() for racer in racers]
    s3.get_object = real_get
    assert outcomes[0] is None and outcomes[1] is not None  # the second's If-Match met the first's write
    assert _lease_body(s3)["owner"] == racers[0].owner


def test_an_unreadable_lease_is_replaced_not_a_crash(s3: Any) -> None:
    s3.put_object(Bucket="lease-lake", Key="lake/_moodlens/lake.lease", Body=b"{not json")
    lease = S3Lease(s3, WAREHOUSE, "batch compact")
    assert lease.try_take() is None and _lease_body(s3)["owner"] == lease.owner


def test_the_lake_lock_of_an_s3_lake_is_its_lease_held_for_the_block_and_gone_after(s3: Any) -> None:
    settings = {"access-key-id": "test", "secret-access-key": "test", "endpoint": s3.meta.endpoint}
    config = glue_lake(WAREHOUSE, region="eu-west-1", **{f"s3.{k}": v for k, v in settings.items()})
    with lake_lock(config, "batch compact", wait_s=0):
        assert _lease_body(s3)["purpose"] == "batch compact"
        with pytest.raises(LakeBusyError), lake_lock(config, "batch maintain", wait_s=0):
            pass
    assert s3.list_objects_v2(Bucket="lease-lake", Prefix="lake/_moodlens/")["KeyCount"] == 0
