"""Outputs on AWS: windows, alarms and late events to Firehose (-> S3 ``raw/``), alarms to SNS and
EventBridge, CloudWatch metrics from the windows, dead letters to SQS.

Delivery is at-least-once: the host writes these before it commits, so a crash replays the batch and
sends the same windows and alarms again, with the same deterministic ``event_id`` (the lake dedups
by it; SNS/EventBridge subscribers can too). CloudWatch gets the same value at the same timestamp
again, which leaves Average, Minimum and Maximum unchanged (dashboards and alarms use those).
Every adapter here takes a boto3 client (or anything with its method); none imports the SDK.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import time
import unicodedata
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stream.deadletter import DeadLetter, DeadLetterSink
from stream.host.sites import Emitted
from stream.jsonl import dumps
from stream.sinks.alert_text import Names, alarm_text, window_key
from stream.sinks.cloudwatch import (
    CAMERA,
    CONSUMER_ALIVE,
    DEAD_LETTERS,
    FACES,
    HEARTBEAT,
    NET_SCORE,
    SITE,
    TRACKS,
    MetricDatum,
    MetricSink,
)

FIREHOSE_MAX_RECORDS, FIREHOSE_MAX_BYTES = 500, 4 * 1024 * 1024
# The consumer's task environment, one variable per output: the stack sets them (``deploy.container``),
# `stream run` takes them as its flags' defaults.
ENV_FIREHOSE_STREAM = "MOODLENS_FIREHOSE_STREAM"
ENV_ALARM_TOPIC_ARN = "MOODLENS_ALARM_TOPIC_ARN"
ENV_EVENT_BUS = "MOODLENS_EVENT_BUS"
ENV_METRIC_NAMESPACE = "MOODLENS_METRIC_NAMESPACE"
ENV_DEAD_LETTER_QUEUE_URL = "MOODLENS_DEAD_LETTER_QUEUE_URL"
# The sites' names for the SNS texts, JSON {"<site>": "<name>"}: in the environment, not on the command line,
# as a name may hold spaces and KCL mode's daemon splits its workers' command at spaces.
ENV_SITE_NAMES = "MOODLENS_SITE_NAMES"
EVENTBRIDGE_MAX_ENTRIES = 10


class DeliveryError(RuntimeError):
    """A sink did not take everything after its retries: the batch is not committed (replayed)."""


def _backoff(attempt: int, base_s: float) -> float:
    # bandit B311: jitter spreads retries out; it needs no unpredictability, so no CSPRNG
    return float(base_s * (2 ** attempt) * (0.5 + random.random()))  # nosec B311


class FirehoseSink:
    """PutRecordBatch of newline-terminated JSON documents; failed entries retried with backoff."""

    def __init__(self, client: Any, delivery_stream: str, *, attempts: int = 5, base_delay_s: float = 0.1,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.delivery_stream = client, delivery_stream
        self.attempts, self.base_delay_s, self.sleep = attempts, base_delay_s, sleep
        self.sent = 0

    def send(self, documents: Sequence[Mapping[str, Any]]) -> None:
        records = [dumps(d) + b"\n" for d in documents]
        start = 0
        while start < len(records):
            end, size = start, 0
            while (end < len(records) and end - start < FIREHOSE_MAX_RECORDS
                   and size + len(records[end]) <= FIREHOSE_MAX_BYTES):
                size += len(records[end])
                end += 1
            self._put(records[start:max(end, start + 1)])
            start = max(end, start + 1)

    def _put(self, pending: list[bytes]) -> None:
        for attempt in range(self.attempts):
            response = self.client.put_record_batch(DeliveryStreamName=self.delivery_stream,
                                                    Records=[{"Data": data} for data in pending])
            if not response.get("FailedPutCount"):
                self.sent += len(pending)
                return
            results = response["RequestResponses"]
            self.sent += sum(1 for r in results if "ErrorCode" not in r)
            pending = [data for data, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            self.sleep(_backoff(attempt, self.base_delay_s))
        raise DeliveryError(f"firehose {self.delivery_stream}: {len(pending)} records not taken "
                            f"after {self.attempts} attempts")


class SnsAlarmSink:
    """One SNS message per alarm state change (ALARM and OK): e-mail, SMS and chat subscribers get the
    plain words the box's alert messages use (``stream.sinks.alert_text``), queues and functions the
    alarm event as JSON with those words and the site's name added (one message, a text per protocol)."""

    def __init__(self, client: Any, topic_arn: str, names: Names | None = None,
                 zones: Mapping[str, str] | None = None, site_names: Mapping[str, str] | None = None) -> None:
        self.client, self.topic_arn = client, topic_arn
        self.names = names or Names()
        self.site_names = dict(site_names or {})  # site -> the name people use, where ``names`` gives none
        # each site's times in its own zone, as its alarms' reasons say them (UTC where none is declared)
        self.zones = {site: zoneinfo.ZoneInfo(zone) for site, zone in (zones or {}).items()}
        self._raised: dict[tuple[str, str, str], int] = {}  # (rule, site, camera) -> its raise's time: a clear's length

    def send(self, alarms: Sequence[Mapping[str, Any]], windows: Sequence[Mapping[str, Any]] = ()) -> None:
        judged = {window_key(w["site_id"], w["camera_id"], w["window_minutes"], w["window_end_ms"]): w
                  for w in windows}
        for alarm in alarms:
            window = next((w for (site, camera, _, end), w in judged.items()
                           if site == alarm["site_id"] and camera == (alarm.get("camera_id") or "")
                           and end == alarm["event_time_ms"] and alarm["rule"] in ("low_sentiment", "sentiment_drop")),
                          None)
            key = (alarm["rule"], alarm["site_id"], alarm.get("camera_id") or "")
            raised = self._raised.pop(key, None)
            if alarm["state"] == "ALARM":
                self._raised[key] = alarm["event_time_ms"]
            names = self.names
            if names.timezone is None:
                names = dataclasses.replace(names, timezone=self.zones.get(alarm["site_id"], dt.UTC))
            if not names.site and alarm["site_id"] in self.site_names:
                names = dataclasses.replace(names, site=self.site_names[alarm["site_id"]])
            title, body = alarm_text(alarm, names, window, raised)
            # the contract's document, and beside it the words people read: a queue or a function that
            # forwards to chat need not rebuild them (the contract allows more properties)
            document = json.dumps({**alarm, "site_name": names.site or alarm["site_id"], "title": title,
                                   "text": body}, sort_keys=True, ensure_ascii=False)
            self.client.publish(
                TopicArn=self.topic_arn, Subject=_subject(title), MessageStructure="json",
                Message=json.dumps({"default": body, "email": body, "sms": title, "sqs": document,
                                    "lambda": document, "http": document, "https": document}),
                MessageAttributes={"event_id": {"DataType": "String", "StringValue": alarm["event_id"]},
                                   "state": {"DataType": "String", "StringValue": alarm["state"]}})


def _subject(title: str) -> str:
    """SNS subjects: at most 100 characters, ASCII printable, no line breaks."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(plain.split())[:99]


class EventBridgeAlarmSink:
    """Alarms as EventBridge events (source ``moodlens.stream``, detail-type ``sentiment_alarm``)."""

    def __init__(self, client: Any, bus: str = "default") -> None:
        self.client, self.bus = client, bus

    def send(self, alarms: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(alarms), EVENTBRIDGE_MAX_ENTRIES):
            chunk = alarms[start:start + EVENTBRIDGE_MAX_ENTRIES]
            response = self.client.put_events(Entries=[
                {"Source": "moodlens.stream", "DetailType": "sentiment_alarm", "EventBusName": self.bus,
                 "Resources": [], "Detail": json.dumps(a, sort_keys=True)} for a in chunk])
            if response.get("FailedEntryCount"):
                raise DeliveryError(f"eventbridge {self.bus}: {response['FailedEntryCount']} alarms not taken")


def window_metrics(windows: Sequence[Mapping[str, Any]], window_minutes: int, cameras: bool = True
                   ) -> list[MetricDatum]:
    """NetScore, Tracks, Faces per site (Camera dimension absent) and per site and camera, from the
    windows of one length, at the window's end (event time). Insufficient data: no NetScore."""
    data: list[MetricDatum] = []
    for w in windows:
        if w["window_minutes"] != window_minutes or (w["camera_id"] is not None and not cameras):
            continue
        dims: tuple[tuple[str, str], ...] = ((SITE, w["site_id"]),)
        if w["camera_id"] is not None:
            dims += ((CAMERA, w["camera_id"]),)
        at = w["window_end_ms"]
        data.append(MetricDatum(TRACKS, dims, at, value=float(w["tracks"]), unit="Count"))
        data.append(MetricDatum(FACES, dims, at, value=float(w["faces"]), unit="Count"))
        if w["net_score"] is not None and not w["insufficient_data"]:
            data.append(MetricDatum(NET_SCORE, dims, at, value=float(w["net_score"])))
    return data


def heartbeat_metrics(heartbeats: Sequence[tuple[str, str, int]]) -> list[MetricDatum]:
    """One Heartbeat sample per camera and closed minute that had one (the camera-silent alarm counts them)."""
    return [MetricDatum(HEARTBEAT, ((SITE, site), (CAMERA, camera)), t // 60_000 * 60_000, value=1.0, unit="Count")
            for site, camera, t in heartbeats]


class AwsOutputs:
    """The host's outputs on AWS; any of them may be absent (None). With metrics, the first write of each
    wall-clock minute also puts ``ConsumerAlive``: a consumer that is down, crash-looping or handed no
    records puts none, which the stack's consumer-silent alarm tells apart from one camera's silence."""

    def __init__(self, *, firehose: FirehoseSink | None = None, sns: SnsAlarmSink | None = None,
                 eventbridge: EventBridgeAlarmSink | None = None, metrics: MetricSink | None = None,
                 dead_letters: DeadLetterSink | None = None, metric_window_minutes: int = 15,
                 metric_cameras: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.firehose, self.sns, self.eventbridge = firehose, sns, eventbridge
        self.metrics, self.dead_letters = metrics, dead_letters
        self.metric_window_minutes, self.metric_cameras = metric_window_minutes, metric_cameras
        self._clock = clock
        self._alive_minute_ms: int | None = None  # the last minute ConsumerAlive was published for

    def restore(self, positions: Mapping[str, Any]) -> None:
        return None  # nothing to undo remotely: replays carry the same ids

    def write(self, emitted: Emitted, letters: Sequence[DeadLetter]) -> None:
        if self.dead_letters is not None and letters:
            self.dead_letters.put(letters)  # raises when SQS did not take them: the batch replays
        if self.firehose is not None:
            self.firehose.send([*emitted.windows, *emitted.alarms, *emitted.late])
        if self.sns is not None and emitted.alarms:
            self.sns.send(emitted.alarms, emitted.windows)
        if self.eventbridge is not None and emitted.alarms:
            self.eventbridge.send(emitted.alarms)
        if self.metrics is not None:
            data = window_metrics(emitted.windows, self.metric_window_minutes, self.metric_cameras)
            data += heartbeat_metrics(emitted.heartbeats)
            now_ms = int(self._clock() * 1000)
            if letters:  # at processing time: the dead-letter alarm watches the consumer, not event time
                data.append(MetricDatum(DEAD_LETTERS, (), now_ms, value=float(len(letters)), unit="Count"))
            minute_ms = now_ms // 60_000 * 60_000
            if minute_ms != self._alive_minute_ms:  # processing time too: the consumer's own liveness
                data.append(MetricDatum(CONSUMER_ALIVE, (), minute_ms, value=1.0, unit="Count"))
            if data:
                result = self.metrics.publish(data)
                if not result.ok:
                    raise DeliveryError(f"cloudwatch: {len(result.failed)} data not taken: {result.errors[:1]}")
            self._alive_minute_ms = minute_ms

    def flush(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


class Fanout:
    """Several outputs as one (e.g. local files and AWS); positions merged."""

    def __init__(self, *outputs: Any) -> None:
        self.outputs = outputs

    def restore(self, positions: Mapping[str, Any]) -> None:
        for output in self.outputs:
            output.restore(positions)

    def write(self, emitted: Emitted, letters: Sequence[DeadLetter]) -> None:
        for output in self.outputs:
            output.write(emitted, letters)

    def flush(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for output in self.outputs:
            merged.update(output.flush())
        return merged

    def close(self) -> None:
        for output in self.outputs:
            output.close()
