"""Host state in S3 against a moto server: round trip, fencing by conditional writes, throttling,
corrupt and other-version objects, and a crash between the site objects and host.json.

moto (5.x) honours If-Match and If-None-Match on PutObject (412 PreconditionFailed), like S3 since
2024; ``test_moto_honours_conditional_writes`` guards that assumption, so the fencing tests below
exercise real conditional requests, not a fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stream.aws.kinesis_host import kinesis_host
from stream.host.loop import CHECKPOINT_VERSION, Host, HostConfig
from stream.host.ports import FencedError
from stream.host.sites import StateError
from stream.sinks.files import WINDOWS, FileOutputs
from stream.sources.locallog import LocalLogSource
from stream.state.s3 import S3StateStore, parse_s3_url
from tests.stream.helpers import T0, face


@pytest.fixture
def s3(aws_client: Callable[[str], Any], unique: str) -> tuple[Any, str]:
    client = aws_client("s3")
    bucket = f"state-{unique}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client, f"s3://{bucket}/consumer"


def checkpoint(n: int) -> dict[str, Any]:
    return {"version": CHECKPOINT_VERSION, "source": "test", "position": n, "counters": {}, "outputs": {}}


def test_moto_honours_conditional_writes(s3: tuple[Any, str]) -> None:
    client, url = s3
    bucket, _ = parse_s3_url(url)
    client.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key="k", Body=b"3", IfMatch='"not-the-etag"')


def test_round_trip_one_object_per_site(s3: tuple[Any, str]) -> None:
    client, url = s3
    store = S3StateStore(client, url)
    assert store.load() == (None, {})
    store.commit(checkpoint(1), {"cafe/1": {"n": 1}, "shop-2": {"n": 2}})
    store.commit(checkpoint(2), {"shop-2": {"n": 3}})
    again = S3StateStore(client, url)
    loaded, sites = again.load()
    assert loaded == checkpoint(2) and sites == {"cafe/1": {"n": 1}, "shop-2": {"n": 3}}
    bucket, _ = parse_s3_url(url)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"consumer/host.json", "consumer/sites/cafe%2F1.json", "consumer/sites/shop-2.json"}


def test_a_stale_consumer_is_fenced_and_overwrites_nothing(s3: tuple[Any, str]) -> None:
    client, url = s3
    old = S3StateStore(client, url)
    old.load()
    old.commit(checkpoint(1), {"s1": {"by": "old"}})
    new = S3StateStore(client, url)  # a second task starts, reads, writes
    new.load()
    new.commit(checkpoint(2), {"s1": {"by": "new"}})
    with pytest.raises(FencedError, match=r"s3://state-\w+/consumer/sites/s1.json was written by another"):
        old.commit(checkpoint(3), {"s1": {"by": "old"}})
    with pytest.raises(FencedError, match=r"host\.json"):
        old.commit(checkpoint(3), {})
    assert S3StateStore(client, url).load() == (checkpoint(2), {"s1": {"by": "new"}})


def test_two_consumers_starting_together_only_one_creates_the_state(s3: tuple[Any, str]) -> None:
    client, url = s3
    a, b = S3StateStore(client, url), S3StateStore(client, url)
    a.load()
    b.load()
    a.commit(checkpoint(1), {"s1": {"by": "a"}})
    with pytest.raises(FencedError, match="did not exist"):
        b.commit(checkpoint(1), {"s1": {"by": "b"}})


class Throttling:
    """The moto client, answering the first ``fail`` PutObject/GetObject calls with 503 SlowDown."""

    def __init__(self, client: Any, fail: int) -> None:
        self.client, self.fail, self.calls = client, fail, 0

    def _maybe(self, operation: str) -> None:
        self.calls += 1
        if self.calls <= self.fail:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, operation)

    def put_object(self, **kwargs: Any) -> Any:
        self._maybe("PutObject")
        return self.client.put_object(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self._maybe("GetObject")
        return self.client.get_object(**kwargs)

    def list_objects_v2(self, **kwargs: Any) -> Any:
        return self.client.list_objects_v2(**kwargs)


def test_throttling_is_retried_with_backoff_then_given_up(s3: tuple[Any, str]) -> None:
    client, url = s3
    pauses: list[float] = []
    store = S3StateStore(Throttling(client, fail=3), url, sleep=pauses.append, attempts=6)
    store.load()
    store.commit(checkpoint(1), {"s1": {"n": 1}})
    assert store.objects.retries == 3 and len(pauses) == 3
    base = store.objects.base_delay_s
    # exponential with jitter: attempt k waits base * 2**k * (0.5 .. 1.5)
    assert all(base * 2 ** k * 0.5 <= pause <= base * 2 ** k * 1.5 for k, pause in enumerate(pauses))
    assert S3StateStore(client, url).load()[0] == checkpoint(1)
    stubborn = S3StateStore(Throttling(client, fail=100), url, sleep=lambda s: None, attempts=3)
    with pytest.raises(ClientError, match="SlowDown"):
        stubborn.load()


def test_a_corrupt_or_older_state_object_is_refused_naming_the_object(s3: tuple[Any, str], tmp_path: Any) -> None:
    client, url = s3
    bucket, _ = parse_s3_url(url)
    client.put_object(Bucket=bucket, Key="consumer/host.json", Body=json.dumps({**checkpoint(1), "source": "locallog",
                                                                               "version": 1}).encode())
    with pytest.raises(StateError, match=rf"s3://{bucket}/consumer/host.json: checkpoint has version 1"):
        Host(LocalLogSource(_EmptyLog()), S3StateStore(client, url), FileOutputs(tmp_path))
    client.put_object(Bucket=bucket, Key="consumer/host.json",
                      Body=json.dumps({**checkpoint(1), "source": "locallog"}).encode())
    client.put_object(Bucket=bucket, Key="consumer/sites/cafe-1.json", Body=b'{"version": 1, "engine": {')
    with pytest.raises(StateError, match=rf"s3://{bucket}/consumer/sites/cafe-1.json: corrupt state object"):
        Host(LocalLogSource(_EmptyLog()), S3StateStore(client, url), FileOutputs(tmp_path))
    client.put_object(Bucket=bucket, Key="consumer/sites/cafe-1.json", Body=b'{"version": 0}')
    with pytest.raises(StateError, match=rf"s3://{bucket}/consumer/sites/cafe-1.json: unusable site state"):
        Host(LocalLogSource(_EmptyLog()), S3StateStore(client, url), FileOutputs(tmp_path))


class _EmptyLog:
    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        return []


class Crash(Exception):  # noqa: N818
    pass


def test_kinesis_consumer_on_s3_state_crashing_between_sites_and_host_counts_no_window_twice(
        s3: tuple[Any, str], aws_client: Callable[[str], Any], unique: str, tmp_path: Any) -> None:
    client, url = s3
    kinesis = aws_client("kinesis")
    stream = f"s3host-{unique}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    events = [face(T0 + i * 5_000, track=f"{site}-{i // 8}", site=site, n=i, top="happy" if i % 3 else "sad")
              for i in range(120) for site in ("s1", "s2", "s3")]
    for start in range(0, len(events), 200):
        kinesis.put_records(StreamName=stream, Records=[{"Data": json.dumps(e).encode(), "PartitionKey": e["site_id"]}
                                                        for e in events[start:start + 200]])
    config = HostConfig(check_time=False)

    clean = kinesis_host(kinesis, stream, S3StateStore(client, url + "-clean"), FileOutputs(tmp_path / "clean"),
                         config, limit=50)
    clean.drain(flush=True)
    clean.close()

    crashes = {"n": 0}

    def fault(point: str) -> None:
        if point == "after-sites":
            crashes["n"] += 1
            if crashes["n"] == 3:
                raise Crash(point)

    host = kinesis_host(kinesis, stream, S3StateStore(client, url, fault=fault), FileOutputs(tmp_path / "crashed"),
                        config, limit=50)
    with pytest.raises(Crash):
        host.drain(flush=True)
    host.close()
    host = kinesis_host(kinesis, stream, S3StateStore(client, url), FileOutputs(tmp_path / "crashed"), config, limit=50)
    host.drain(flush=True)
    host.close()
    assert host.counters["skipped"] > 0  # the replayed batch: sites that had stored it skipped it

    def windows(folder: Any) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (folder / WINDOWS).read_text().splitlines()]

    expected = {w["event_id"]: w for w in windows(tmp_path / "clean")}
    got = windows(tmp_path / "crashed")
    assert {w["event_id"]: w for w in got} == expected  # nothing lost, each window the same
    assert len(got) == len(expected)  # the sites that had stored the batch did not emit it again
