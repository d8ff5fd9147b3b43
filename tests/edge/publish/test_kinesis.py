"""Kinesis transport: batches within quotas, partition key = site, partial failures and throttling.

Partial failures and throttles come from botocore's Stubber or a fault-injecting wrapper around a moto
client: moto itself never fails a record, so no test relies on it for those paths.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from edge.publish.kinesis import KinesisTransport, kinesis_client
from edge.publish.ports import OutboundRecord, TransportThrottled, TransportUnavailable
from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SqliteSpool
from tests.edge.publish.fakes import RecordingSleep, heartbeat

STREAM = "moodlens-events"


def record(n: int, site: str = "site-1", size: int = 0) -> OutboundRecord:
    payload = json.dumps({"n": n, "pad": "x" * size}).encode()
    return OutboundRecord(seq=n + 1, payload=payload, site_id=site, camera_id="cam-1")


def ok(count: int) -> dict[str, Any]:
    # botocore's model gives FailedRecordCount a minimum of 1: a clean response leaves it out.
    return {"Records": [{"SequenceNumber": str(i), "ShardId": "shardId-000000000000"} for i in range(count)]}


def partly_failed(count: int, failed: set[int]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for i in range(count):
        if i in failed:
            results.append({"ErrorCode": "ProvisionedThroughputExceededException",
                            "ErrorMessage": "Rate exceeded for shard shardId-000000000000"})
        else:
            results.append({"SequenceNumber": str(i), "ShardId": "shardId-000000000000"})
    return {"FailedRecordCount": len(failed), "Records": results} if failed else {"Records": results}


def request(records: list[OutboundRecord]) -> dict[str, Any]:
    return {"StreamName": STREAM, "Records": [{"Data": r.payload, "PartitionKey": r.site_id} for r in records]}


@pytest.fixture
def stubbed(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    client = kinesis_client(region="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(("failed", "expected"), [(set(), []), ({1}, [1]), ({0, 2}, [0, 2]), ({0, 1, 2}, [0, 1, 2])])
def test_per_record_errors_come_back_as_failed_indices(stubbed, failed, expected):
    client, stubber = stubbed
    records = [record(0, "site-a"), record(1, "site-b"), record(2, "site-a")]
    stubber.add_response("put_records", partly_failed(3, failed), request(records))  # key = site
    assert KinesisTransport(STREAM, client).send(records) == expected


@pytest.mark.parametrize(("code", "error", "words"), [
    ("ProvisionedThroughputExceededException", TransportThrottled, "ProvisionedThroughputExceeded"),
    ("ThrottlingException", TransportThrottled, "ThrottlingException"),
    ("LimitExceededException", TransportThrottled, "LimitExceeded"),
    ("ResourceNotFoundException", TransportUnavailable, "ResourceNotFound"),
    ("AccessDeniedException", TransportUnavailable, "AccessDenied"),
])
def test_whole_call_errors_are_retryable_failures_that_say_what_happened(stubbed, code, error, words):
    client, stubber = stubbed
    stubber.add_client_error("put_records", service_error_code=code, service_message="nope", http_status_code=400)
    with pytest.raises(error, match=words) as raised:
        KinesisTransport(STREAM, client).send([record(0)])
    assert STREAM in str(raised.value)


def test_the_publisher_retries_only_failed_records_then_backs_off_on_a_throttled_call(stubbed, tmp_path):
    client, stubber = stubbed
    spool = SqliteSpool(tmp_path / "spool.db")
    sleep = RecordingSleep()
    publisher = SpoolingPublisher(spool, KinesisTransport(STREAM, client), sleep=sleep)
    events = [heartbeat(n) for n in range(4)]
    for event in events:
        publisher.publish(event)
    spooled = spool.peek(10, 1 << 20)

    stubber.add_response("put_records", partly_failed(4, {1, 3}), request(spooled))
    stubber.add_client_error("put_records", service_error_code="ProvisionedThroughputExceededException",
                             http_status_code=400, expected_params=request([spooled[1], spooled[3]]))
    stubber.add_response("put_records", partly_failed(2, {1}), request([spooled[1], spooled[3]]))
    stubber.add_response("put_records", ok(1), request([spooled[3]]))

    throttled = publisher.drain()
    assert throttled.remaining == 2
    assert isinstance(throttled.error, str) and "ProvisionedThroughputExceeded" in throttled.error
    assert len(sleep.delays) == 1  # one backoff before retrying the two failed records

    recovered = publisher.drain()
    assert (recovered.delivered, recovered.remaining, recovered.error) == (2, 0, None)
    assert len(sleep.delays) == 2


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(Records)
        return ok(len(Records))


@pytest.mark.parametrize(("count", "pad", "expected_calls"), [
    (1200, 0, [500, 500, 200]),  # the record quota
    (12, 900_000, [5, 5, 2]),  # the 5 MiB quota: five ~0.9 MB records a call
    (3, 0, [3]),
])
def test_batches_are_split_at_the_put_records_quotas_in_order(count, pad, expected_calls):
    client = RecordingClient()
    records = [record(n, size=pad) for n in range(count)]
    assert KinesisTransport(STREAM, client).send(records) == []
    assert [len(call) for call in client.calls] == expected_calls
    assert [json.loads(r["Data"])["n"] for call in client.calls for r in call] == list(range(count))
    assert all(sum(len(r["Data"]) + len(r["PartitionKey"]) for r in call) <= 5 * 1024 * 1024
               for call in client.calls)


def test_a_record_over_one_mib_is_refused_before_any_call():
    client = RecordingClient()
    with pytest.raises(ValueError, match="1 MiB"):
        KinesisTransport(STREAM, client).send([record(0), record(1, size=1024 * 1024)])
    assert client.calls == []


class FailingSecondChunk(RecordingClient):
    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if self.calls:
            raise EndpointConnectionError(endpoint_url="https://kinesis.eu-west-1.amazonaws.com")
        return super().put_records(StreamName=StreamName, Records=Records)


def test_when_a_later_chunk_fails_only_its_records_are_reported_not_the_delivered_ones():
    client = FailingSecondChunk()
    assert KinesisTransport(STREAM, client).send([record(n) for n in range(600)]) == list(range(500, 600))
    with pytest.raises(TransportUnavailable, match="Could not connect"):
        KinesisTransport(STREAM, client).send([record(0)])  # nothing delivered: the whole call failed


class FaultInjectingKinesis:
    """Wraps a real (moto) client: the records at the given indices of each call fail as throttled."""

    def __init__(self, client: Any, plan: list[set[int]]) -> None:
        self.client, self.plan = client, plan

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        failing = self.plan.pop(0) if self.plan else set()
        passing = [r for i, r in enumerate(Records) if i not in failing]
        real = iter(self.client.put_records(StreamName=StreamName, Records=passing)["Records"] if passing else [])
        results = [partly_failed(1, {0})["Records"][0] if i in failing else next(real) for i in range(len(Records))]
        return {"FailedRecordCount": len(failing), "Records": results}


def read_stream(client: Any, stream: str) -> list[tuple[str, dict[str, Any]]]:
    shard = client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = client.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    return [(r["PartitionKey"], json.loads(r["Data"])) for r in records]


@pytest.mark.parametrize("plan", [[], [{0, 5, 9}, {1}], [set(range(12)), {0}]])
def test_events_reach_a_moto_stream_exactly_once_each_with_the_site_as_key(aws_env, tmp_path, plan):
    stream = f"events-{len(plan)}-{sum(len(p) for p in plan)}"
    admin = boto3.client("kinesis", region_name="eu-west-1", endpoint_url=aws_env)
    admin.create_stream(StreamName=stream, ShardCount=1)
    client = FaultInjectingKinesis(kinesis_client("eu-west-1", endpoint_url=aws_env), list(plan))
    publisher = SpoolingPublisher(SqliteSpool(tmp_path / "spool.db"), KinesisTransport(stream, client),
                                  sleep=RecordingSleep())
    events = [heartbeat(n, site=f"site-{n % 3}") for n in range(12)]
    for event in events:
        publisher.publish(event)

    result = publisher.drain()

    assert (result.remaining, result.error) == (0, None)
    received = read_stream(admin, stream)
    assert sorted(e["event_id"] for _, e in received) == sorted(e["event_id"] for e in events)
    assert all(key == event["site_id"] for key, event in received)
    if not plan:
        assert [e["faces"] for _, e in received] == list(range(12))  # no failure: order kept


def test_a_dead_endpoint_is_a_retryable_failure_and_nothing_leaves_the_spool(aws_env, tmp_path):
    from tests.support.moto_server import free_port

    client = kinesis_client("eu-west-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    spool = SqliteSpool(tmp_path / "spool.db")
    publisher = SpoolingPublisher(spool, KinesisTransport(STREAM, client))
    publisher.publish(heartbeat(0))
    result = publisher.drain()
    assert result.remaining == 1
    assert "Could not connect" in (result.error or "")
