"""The Lambda handler, called in process with Kinesis-shaped events built from records read back from
moto Kinesis; CloudWatch and SQS are moto too. Lambda itself is not emulated by moto: what is tested
is the handler's response (batchItemFailures) and its effects, not Lambda's retry machinery."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.aws.cloudwatch import CloudWatchPublisher
from stream.aws.kinesis_events import lambda_event
from stream.aws.kinesis_reader import KinesisReader, KinesisRecord
from stream.aws.lambda_handler import KinesisBatchHandler
from stream.aws.sqs_deadletter import SqsDeadLetterSink
from stream.deadletter import DeadLetter
from stream.ingest import IngestConfig
from tests.schemas.events import EVENT_TIME_MS, camera_heartbeat, face_expression, sentiment_window

NOW_MS = EVENT_TIME_MS + 60_000
MINUTE = EVENT_TIME_MS - EVENT_TIME_MS % 60_000
DAY_MS = 24 * 3600_000


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


@dataclass
class Rig:
    kinesis: Any
    cloudwatch: Any
    sqs: Any
    stream: str
    stream_arn: str
    queue_url: str
    site: str

    def put(self, payloads: list[bytes], key: str | None = None) -> list[KinesisRecord]:
        """Puts payloads, reads them back from moto Kinesis and returns them in shard order."""
        for payload in payloads:
            self.kinesis.put_record(StreamName=self.stream, Data=payload, PartitionKey=key or self.site)
        got: list[KinesisRecord] = []
        KinesisReader(self.kinesis, self.stream).read(got.extend)
        return got

    def handler(self, cloudwatch: Any = None, sqs: Any = None, max_items: int = 1000) -> KinesisBatchHandler:
        return KinesisBatchHandler(CloudWatchPublisher(cloudwatch or self.cloudwatch, max_items=max_items),
                                   SqsDeadLetterSink(sqs or self.sqs, self.queue_url), IngestConfig(),
                                   clock_ms=lambda: NOW_MS)

    def event(self, records: list[KinesisRecord]) -> dict[str, Any]:
        return lambda_event(records, self.stream_arn, "eu-west-1")

    def dead_letters(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def stat(self, metric: str, camera: str | None = "cam-a", site: str | None = None,
             minute_ms: int = MINUTE) -> dict[str, float] | None:
        """The one-minute data point at `minute_ms`. GetMetricData, because moto's GetMetricStatistics
        matches dimensions as a subset (a [Site] query also returns [Site, Camera] data); real
        CloudWatch and moto's GetMetricData match them exactly."""
        dims = [{"Name": "Site", "Value": site or self.site}]
        if camera is not None:
            dims.append({"Name": "Camera", "Value": camera})
        stats = ("SampleCount", "Sum", "Minimum", "Maximum")
        response = self.cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": f"q{i}", "MetricStat": {
                "Metric": {"Namespace": "Moodlens", "MetricName": metric, "Dimensions": dims},
                "Period": 60, "Stat": stat}} for i, stat in enumerate(stats)],
            StartTime=datetime.fromtimestamp(minute_ms / 1000, UTC),
            EndTime=datetime.fromtimestamp(minute_ms / 1000 + 60, UTC))
        out = {}
        for stat, result in zip(stats, response["MetricDataResults"], strict=True):
            assert len(result["Values"]) <= 1
            if result["Values"]:
                assert result["Timestamps"][0] == datetime.fromtimestamp(minute_ms / 1000, UTC)
                out[stat] = result["Values"][0]
        return out or None


@pytest.fixture
def rig(aws_client: Callable[[str], Any], unique: str) -> Rig:
    kinesis, sqs = aws_client("kinesis"), aws_client("sqs")
    stream = f"events-{unique}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    queue_url = sqs.create_queue(QueueName=f"dlq-{unique}")["QueueUrl"]
    return Rig(kinesis, aws_client("cloudwatch"), sqs, stream, arn, queue_url, f"site-{unique}")


def faces(site: str, *specs: tuple[str, str, str]) -> list[dict[str, Any]]:
    """(track, top_class, kind) -> face_expression events at EVENT_TIME_MS for cam-a."""
    valence = {"happy": 0.8, "sad": -0.6, "neutral": 0.0}
    return [face_expression(site_id=site, track_id=track, top_class=top, valence=valence[top], kind=kind,
                            **({"duration_ms": 1000, "frame_count": 20} if kind == "track_end" else {}))
            for track, top, kind in specs]


def test_valid_batch_publishes_event_time_statistic_sets_and_reports_no_failure(rig: Rig) -> None:
    events = faces(rig.site, ("t1", "happy", "track_update"), ("t1", "happy", "track_update"),
                   ("t2", "sad", "track_update"), ("t3", "neutral", "track_end"))
    events.append(camera_heartbeat(site_id=rig.site))
    records = rig.put([encode(e) for e in events])

    response = rig.handler()(rig.event(records))

    assert response == {"batchItemFailures": []}
    net = rig.stat("NetScore")  # at the event-time minute
    assert net is not None
    assert (net["SampleCount"], net["Sum"], net["Minimum"], net["Maximum"]) == (3, 0.0, -1.0, 1.0)
    assert rig.stat("Faces")["Sum"] == 3  # type: ignore[index]  # track_end is not an observation
    assert rig.stat("Heartbeat")["SampleCount"] == 1  # type: ignore[index]
    assert rig.stat("NetScore", camera=None)["SampleCount"] == 3  # type: ignore[index]  # site level
    assert rig.dead_letters() == []


def test_duplicates_within_a_batch_count_once(rig: Rig) -> None:
    event = faces(rig.site, ("t1", "happy", "track_update"))[0]
    records = rig.put([encode(event)] * 3)
    handler = rig.handler()
    outcome = handler.process([r for r in _powertools_records(rig.event(records))])
    assert (outcome.valid, outcome.duplicates) == (1, 2)
    assert rig.stat("Faces")["Sum"] == 1  # type: ignore[index]


def _powertools_records(event: dict[str, Any]) -> list[Any]:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    return [KinesisStreamRecord(r) for r in event["Records"]]


def _too_big() -> bytes:
    return encode(face_expression(padding="x" * (IngestConfig().max_bytes + 1)))


BAD_INPUT: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("malformed json", lambda: b'{"schema": "face_expression", ', "malformed_json", "malformed JSON"),
    ("not json at all", lambda: b"\xff\xfe\x00binary", "bad_encoding", "malformed JSON"),
    ("unknown major", lambda: encode(face_expression(schema_version="2.0")), "unsupported_major_version",
     "unsupported major version 2"),
    ("missing field", lambda: encode({k: v for k, v in face_expression().items() if k != "camera_id"}),
     "missing_field", "is required"),
    ("NaN probability", lambda: encode(face_expression()).replace(b'"happy": 0.7', b'"happy": NaN'),
     "malformed_json", "NaN is not valid JSON"),
    ("probability out of range", lambda: encode(face_expression(
        probabilities={"angry": 0.0, "disgust": 0.0, "fear": 0.0, "happy": 1.5, "sad": 0.0, "surprise": 0.0,
                       "neutral": -0.5})), "invalid_field", "above the maximum"),
    ("event time far in the future", lambda: encode(face_expression(event_time_ms=NOW_MS + DAY_MS)),
     "event_time_out_of_range", "in the future"),
    ("event time far in the past", lambda: encode(face_expression(event_time_ms=NOW_MS - 30 * DAY_MS)),
     "event_time_out_of_range", "in the past"),
    ("event time in seconds", lambda: encode(face_expression(event_time_ms=EVENT_TIME_MS // 1000)),
     "invalid_field", "below the minimum"),
    ("over the size limit", _too_big, "too_large", "over the limit"),
    ("a stream output is not an input", lambda: encode(sentiment_window()), "unknown_schema",
     "not a stream input"),
    ("track_end without its duration", lambda: encode(face_expression(kind="track_end")), "missing_field",
     "is required when kind is track_end"),
]


@pytest.mark.parametrize(("payload", "kind", "reason"), [b[1:] for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT])
def test_bad_record_goes_to_the_dead_letter_queue_and_does_not_block_the_batch(
        rig: Rig, payload: Callable[[], bytes], kind: str, reason: str) -> None:
    good = faces(rig.site, ("t1", "happy", "track_update"), ("t2", "happy", "track_update"))
    records = rig.put([encode(good[0]), payload(), encode(good[1])])
    handler = rig.handler()

    response = handler(rig.event(records))

    assert response == {"batchItemFailures": []}  # not retried
    letters = rig.dead_letters()
    assert len(letters) == 1
    letter = letters[0]
    assert any(reason in r["reason"] for r in letter["reasons"]), letter["reasons"]
    assert letter["source"] == f"kinesis:{rig.stream}/{records[1].shard_id}@{records[1].sequence_number}"
    assert letter["payload_bytes"] == len(records[1].data)
    if not letter["payload_truncated"]:
        assert DeadLetter.from_json(letter).payload == records[1].data
    assert handler.last_outcome is not None
    assert dict(handler.last_outcome.dead_letter_reasons) == {kind: 1}  # counted, by kind
    assert rig.stat("Faces")["Sum"] == 2  # type: ignore[index]  # the good records went through


def test_record_that_is_not_base64_is_dead_lettered(rig: Rig) -> None:
    records = rig.put([encode(faces(rig.site, ("t1", "happy", "track_update"))[0])])
    event = rig.event(records)
    event["Records"][0]["kinesis"]["data"] = "!!not base64!!"
    assert rig.handler()(event) == {"batchItemFailures": []}
    assert "base64" in rig.dead_letters()[0]["reasons"][0]["reason"]


class ThrottlingCloudWatch:
    """Wraps the moto client; put_metric_data raises Throttling when `throttle(request)` says so."""

    def __init__(self, client: Any, throttle: Callable[[list[dict[str, Any]]], bool]) -> None:
        self.client = client
        self.throttle = throttle
        self.calls = 0

    def put_metric_data(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError
        self.calls += 1
        if self.throttle(kwargs["MetricData"]):
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData")
        return self.client.put_metric_data(**kwargs)


def _sites(request: list[dict[str, Any]]) -> set[str]:
    return {d["Value"] for item in request for d in item["Dimensions"] if d["Name"] == "Site"}


@pytest.mark.parametrize("throttled", ["all", "one_site"])
def test_throttled_metrics_report_exactly_the_records_behind_them(rig: Rig, throttled: str) -> None:
    other = rig.site + "-b"
    a = faces(rig.site, ("t1", "happy", "track_update"), ("t2", "sad", "track_update"))
    b = faces(other, ("t9", "happy", "track_update"))
    bad = b"not json"
    records = rig.put([encode(a[0]), encode(b[0]), bad, encode(a[1])])
    if throttled == "all":
        client = ThrottlingCloudWatch(rig.cloudwatch, lambda request: True)
        expected = {records[0].sequence_number, records[1].sequence_number, records[3].sequence_number}
    else:
        client = ThrottlingCloudWatch(rig.cloudwatch, lambda request: other in _sites(request))
        expected = {records[1].sequence_number}

    response = rig.handler(cloudwatch=client, max_items=1)(rig.event(records))

    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == expected
    assert len(rig.dead_letters()) == 1  # the bad record is dead-lettered, not retried
    if throttled == "one_site":
        assert rig.stat("NetScore")["SampleCount"] == 2  # type: ignore[index]
        assert rig.stat("NetScore", site=other) is None


class BrokenSqs:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if self.mode == "raise":
            raise ConnectionError("sqs unreachable")
        return {"Successful": [], "Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
                                             for e in Entries]}


@pytest.mark.parametrize("mode", ["raise", "partial"])
def test_dead_letter_queue_failure_retries_only_the_bad_records(rig: Rig, mode: str) -> None:
    good = faces(rig.site, ("t1", "happy", "track_update"))
    records = rig.put([encode(good[0]), b"{", b"[]"])
    response = rig.handler(sqs=BrokenSqs(mode))(rig.event(records))
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {
        records[1].sequence_number, records[2].sequence_number}
    assert rig.stat("Faces")["Sum"] == 1  # type: ignore[index]


def test_an_entirely_failed_batch_is_reported_not_raised(rig: Rig) -> None:
    records = rig.put([encode(e) for e in faces(rig.site, ("t1", "happy", "track_update"),
                                                ("t2", "sad", "track_update"))])
    client = ThrottlingCloudWatch(rig.cloudwatch, lambda request: True)
    response = rig.handler(cloudwatch=client)(rig.event(records))
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {r.sequence_number for r in records}


def test_events_of_two_minutes_and_two_cameras_become_separate_panes(rig: Rig) -> None:
    events = [face_expression(site_id=rig.site, camera_id="cam-a", track_id="t1"),
              face_expression(site_id=rig.site, camera_id="cam-b", track_id="t1"),
              face_expression(site_id=rig.site, camera_id="cam-a", track_id="t1",
                              event_time_ms=EVENT_TIME_MS - 60_000)]
    records = rig.put([encode(e) for e in events])
    outcome = rig.handler().process(_powertools_records(rig.event(records)))
    assert outcome.panes == 3
    assert rig.stat("NetScore", camera=None)["SampleCount"] == 2  # type: ignore[index]  # two cameras' t1
    assert rig.stat("NetScore", camera=None, minute_ms=MINUTE - 60_000)["SampleCount"] == 1  # type: ignore[index]
    assert rig.stat("NetScore", camera="cam-b")["SampleCount"] == 1  # type: ignore[index]


def test_a_validation_bug_dead_letters_the_record_instead_of_crashing(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    import stream.aws.lambda_handler as module

    real = module.check

    def flaky(raw: bytes, now_ms: int | None, config: IngestConfig) -> Any:
        if b"t-bug" in raw:
            raise RecursionError("validator bug")
        return real(raw, now_ms, config)

    monkeypatch.setattr(module, "check", flaky)
    records = rig.put([encode(e) for e in faces(rig.site, ("t-bug", "happy", "track_update"),
                                                   ("t1", "happy", "track_update"))])
    assert rig.handler()(rig.event(records)) == {"batchItemFailures": []}
    letters = rig.dead_letters()
    assert [letter["reasons"][0]["reason"] for letter in letters] == ["unexpected RecursionError: validator bug"]
    assert rig.stat("Faces")["Sum"] == 1  # type: ignore[index]


def test_a_broken_metric_sink_fails_the_valid_records_without_raising(rig: Rig) -> None:
    class Broken:
        def publish(self, data: Any) -> Any:
            raise RuntimeError("no route to CloudWatch")

    records = rig.put([encode(e) for e in faces(rig.site, ("t1", "happy", "track_update"))] + [b"{"])
    handler = KinesisBatchHandler(Broken(), SqsDeadLetterSink(rig.sqs, rig.queue_url), clock_ms=lambda: NOW_MS)
    response = handler(rig.event(records))
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0].sequence_number}]}
    assert len(rig.dead_letters()) == 1


def test_the_lambda_entry_point_builds_its_clients_from_the_environment(
        rig: Rig, aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import stream.aws.lambda_handler as module

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)  # boto3 >= 1.28 honours it for every service
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", rig.queue_url)
    monkeypatch.setenv("MAX_FUTURE_MS", str(400 * 24 * 3600_000))  # the sample events are from 2026-09
    monkeypatch.setenv("MAX_PAST_MS", str(400 * 24 * 3600_000))
    monkeypatch.setattr(module, "_HANDLER", None)
    records = rig.put([encode(e) for e in faces(rig.site, ("t1", "sad", "track_update"))] + [b"[]"])
    assert module.handler(rig.event(records), None) == {"batchItemFailures": []}
    assert rig.stat("NetScore")["Sum"] == -1  # type: ignore[index]
    assert len(rig.dead_letters()) == 1
