"""The AWS outputs against moto server: Firehose -> S3, SNS -> SQS, EventBridge -> SQS, CloudWatch
metrics from the windows, SQS dead letters. moto's Firehose never fails part of a batch, so the
retry of failed entries is driven with a client that does (``PartlyFailing``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.deadletter import DeadLetter
from stream.host.sites import Applied, Emitted, Sites
from stream.sinks.aws import AwsOutputs, DeliveryError, EventBridgeAlarmSink, FirehoseSink, SnsAlarmSink
from stream.sinks.cloudwatch import CONSUMER_ALIVE, CloudWatchPublisher, MemoryMetricSink, MetricDatum, PublishResult
from stream.sinks.sqs import SqsDeadLetterSink
from tests.stream.helpers import T0, face
from tests.stream.host.test_sites import ALARMS, ENGINE


def emitted() -> Emitted:
    """Windows and alarms from a site that turns sour (the alarm fires)."""
    sites = Sites(ENGINE, ALARMS)
    events = [face(T0 + i * 10_000, track=f"t{i // 3}", site="cafe-1", camera="cam-a", n=i,
                   top="happy" if i < 60 else "angry") for i in range(180)]
    out = sites.apply([Applied(e, "p", i) for i, e in enumerate(events)])
    out.extend(sites.flush())
    assert out.alarms and out.windows
    return out


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        got += [json.loads(m["Body"]) for m in messages]
    return got


def test_windows_alarms_and_late_events_reach_s3_through_firehose(aws_client: Callable[[str], Any],
                                                                   unique: str) -> None:
    s3, firehose = aws_client("s3"), aws_client("firehose")
    bucket = f"raw-{unique}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    firehose.create_delivery_stream(
        DeliveryStreamName=f"out-{unique}", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                            "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "raw/"})
    out = emitted()
    AwsOutputs(firehose=FirehoseSink(firehose, f"out-{unique}")).write(out, [])
    lines = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]:
        lines += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode().splitlines()
    documents = [json.loads(line) for line in lines]
    assert sorted(d["event_id"] for d in documents) == sorted(d["event_id"] for d in [*out.windows, *out.alarms])


class PartlyFailing:
    """Firehose answering the first ``fail_calls`` calls with every ``every``-th entry failed."""

    def __init__(self, fail_calls: int, every: int = 2) -> None:
        self.calls: list[list[bytes]] = []
        self.fail_calls, self.every = fail_calls, every

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append([r["Data"] for r in Records])
        if len(self.calls) <= self.fail_calls:
            failed = {"ErrorCode": "ServiceUnavailableException"}
            responses = [failed if i % self.every == self.every - 1 else {"RecordId": str(i)}
                         for i in range(len(Records))]
            return {"FailedPutCount": sum("ErrorCode" in r for r in responses), "RequestResponses": responses}
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"} for _ in Records]}


def test_firehose_retries_only_the_failed_entries_then_gives_up_clearly() -> None:
    client = PartlyFailing(fail_calls=1)
    sink = FirehoseSink(client, "out", sleep=lambda s: None)
    sink.send([{"n": i} for i in range(5)])
    assert [len(call) for call in client.calls] == [5, 2] and sink.sent == 5
    assert client.calls[1] == [b'{"n":1}\n', b'{"n":3}\n']
    with pytest.raises(DeliveryError, match="firehose out: 2 records not taken after 3 attempts"):
        stubborn = FirehoseSink(PartlyFailing(fail_calls=99, every=1), "out", attempts=3, sleep=lambda s: None)
        stubborn.send([{"a": 1}, {"b": 2}])


def test_alarms_go_to_sns_and_eventbridge(aws_client: Callable[[str], Any], unique: str) -> None:
    sns, sqs, events = aws_client("sns"), aws_client("sqs"), aws_client("events")
    topic = sns.create_topic(Name=f"alarms-{unique}")["TopicArn"]
    sns_url, sns_arn = queue(sqs, f"sns-{unique}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_arn, Attributes={"RawMessageDelivery": "true"})
    bus = events.create_event_bus(Name=f"bus-{unique}")["EventBusArn"].split("/")[-1]
    eb_url, eb_arn = queue(sqs, f"eb-{unique}")
    events.put_rule(Name=f"r-{unique}", EventBusName=bus, EventPattern=json.dumps({"source": ["moodlens.stream"]}))
    events.put_targets(Rule=f"r-{unique}", EventBusName=bus, Targets=[{"Id": "q", "Arn": eb_arn}])
    out = emitted()
    AwsOutputs(sns=SnsAlarmSink(sns, topic), eventbridge=EventBridgeAlarmSink(events, bus)).write(out, [])
    assert sorted(m["event_id"] for m in drain(sqs, sns_url)) == sorted(a["event_id"] for a in out.alarms)
    delivered = drain(sqs, eb_url)
    assert sorted(m["detail"]["event_id"] for m in delivered) == sorted(a["event_id"] for a in out.alarms)
    assert {m["detail-type"] for m in delivered} == {"sentiment_alarm"}


def test_queue_and_function_subscribers_get_the_alarm_with_the_words_people_read(
        aws_client: Callable[[str], Any], unique: str) -> None:
    """A queue (or a function forwarding to chat) gets the alarm's JSON and, beside it, the site's name and the
    title and text the e-mail carries: names where the stack gives them, times in the site's zone."""
    sns, sqs = aws_client("sns"), aws_client("sqs")
    topic = sns.create_topic(Name=f"named-{unique}")["TopicArn"]
    url, arn = queue(sqs, f"named-{unique}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    out = emitted()
    SnsAlarmSink(sns, topic, zones={"cafe-1": "Europe/Berlin"}, site_names={"cafe-1": "Café Central"}).send(
        out.alarms, out.windows)
    got = {m["event_id"]: m for m in drain(sqs, url)}
    assert set(got) == {a["event_id"] for a in out.alarms}
    for alarm in out.alarms:
        message = got[alarm["event_id"]]
        assert {k: message[k] for k in alarm} == alarm  # the contract's document, as it is
        assert message["site_name"] == "Café Central"
        assert message["title"].startswith(("ALARM at Café Central", "Resolved at Café Central"))
        assert message["text"].startswith("Café Central") and "(CEST)" in message["text"]
        assert "cafe-1" not in message["title"] + message["text"]


def test_cloudwatch_metrics_per_site_and_camera_come_from_the_windows(aws_client: Callable[[str], Any],
                                                                      unique: str) -> None:
    cloudwatch = aws_client("cloudwatch")
    namespace = f"Moodlens/{unique}"
    out = emitted()
    AwsOutputs(metrics=CloudWatchPublisher(cloudwatch, namespace), metric_window_minutes=5).write(out, [])
    five = [w for w in out.windows if w["window_minutes"] == 5]
    for camera, dims in ((None, [{"Name": "Site", "Value": "cafe-1"}]),
                         ("cam-a", [{"Name": "Site", "Value": "cafe-1"}, {"Name": "Camera", "Value": "cam-a"}])):
        windows: list[dict[str, Any]] = [dict(w) for w in five if w["camera_id"] == camera]
        for metric, field in (("Tracks", "tracks"), ("Faces", "faces"), ("NetScore", "net_score")):
            stats = cloudwatch.get_metric_statistics(
                Namespace=namespace, MetricName=metric, Dimensions=dims, Period=60, Statistics=["Maximum"],
                StartTime=datetime.fromtimestamp(T0 / 1000 - 3600, UTC),
                EndTime=datetime.fromtimestamp(T0 / 1000 + 86_400, UTC))["Datapoints"]
            expected = {w["window_end_ms"]: w[field] for w in windows
                        if w[field] is not None and not (field == "net_score" and w["insufficient_data"])}
            got = {int(p["Timestamp"].timestamp() * 1000): p["Maximum"] for p in stats}
            assert got == pytest.approx(expected), (metric, camera)


def test_dead_letters_go_to_sqs_with_their_reason(aws_client: Callable[[str], Any], unique: str) -> None:
    sqs = aws_client("sqs")
    url, _ = queue(sqs, f"dlq-{unique}")
    letter = DeadLetter(b"{broken", (("$", "malformed JSON"),), "kinesis:s/shard-0@1", "malformed_json")
    AwsOutputs(dead_letters=SqsDeadLetterSink(sqs, url, clock_ms=lambda: int(time.time() * 1000))).write(
        Emitted(), [letter])
    (body,) = drain(sqs, url)
    assert body["reasons"] == [{"path": "$", "reason": "malformed JSON"}] and body["payload"] == "{broken"


@given(st.lists(st.integers(0, 10 * 60_000), min_size=1, max_size=40))
def test_consumer_alive_is_put_once_for_each_minute_the_consumer_wrote_in(offsets_ms: list[int]) -> None:
    times = sorted(T0 + offset for offset in offsets_ms)
    clock = iter(times)
    sink = MemoryMetricSink()
    outputs = AwsOutputs(metrics=sink, clock=lambda: next(clock) / 1000)
    for _ in times:
        outputs.write(Emitted(), [])  # a batch that closed no window: the consumer still shows it is alive
    alive = [d for d in sink.data if d.name == CONSUMER_ALIVE]
    assert [d.timestamp_ms for d in alive] == sorted({t // 60_000 * 60_000 for t in times})
    assert all(d.dimensions == () and d.value == 1.0 for d in alive)


class _Refusing:
    def __init__(self) -> None:
        self.refuse = True
        self.sent: list[MetricDatum] = []

    def publish(self, data: Sequence[MetricDatum]) -> PublishResult:
        if self.refuse:
            return PublishResult(requests=1, failed=list(data), errors=["Throttling: rate exceeded"])
        self.sent.extend(data)
        return PublishResult(requests=1, sent=list(data))


def test_a_minute_whose_consumer_alive_cloudwatch_refused_is_put_again_by_the_replayed_batch() -> None:
    sink = _Refusing()
    outputs = AwsOutputs(metrics=sink, clock=lambda: T0 / 1000 + 5)
    with pytest.raises(DeliveryError, match="Throttling"):
        outputs.write(Emitted(), [])
    sink.refuse = False
    outputs.write(Emitted(), [])
    assert [(d.name, d.timestamp_ms) for d in sink.sent] == [(CONSUMER_ALIVE, T0)]
