"""AWS Lambda handler for a Kinesis event source mapping (ReportBatchItemFailures), on
aws-lambda-powertools batch processing.

Lambda's built-in Kinesis tumbling windows use arrival time and keep state per shard, so this handler
keeps no state between invocations. Per batch (one shard, in sequence order):

1. decode and validate every record with the stream's ingest rules (`stream.ingest`: size, strict
   JSON, contract, input schemas, event time against the clock); a record that
   can never succeed goes to the SQS dead-letter queue with its reasons and is reported as processed,
   so it is not retried and never blocks the shard;
2. drop duplicate event ids within the batch (the edge retries; Kinesis delivers at least once);
3. fold events into 1-minute pane aggregates keyed by (site, camera, minute of event time) with the
   engine's mergeable `PaneAggregate`;
4. publish each pane as CloudWatch statistic sets stamped with the pane's event-time minute, so
   CloudWatch merges batches and shards (see `pane_metrics` for what it can and cannot reproduce);
5. report transient failures (a throttled or failed PutMetricData, an SQS send that failed) as
   batchItemFailures: the sequence numbers of the records behind the failed data. Lambda resumes the
   shard from the lowest one; with BisectBatchOnFunctionError and MaximumRetryAttempts, a record that
   keeps failing ends in the mapping's on-failure destination instead of blocking the shard.

Retries republish: records after the lowest failed sequence number whose data did go out are sent
again, and CloudWatch adds them again (averages barely move, counts inflate). Exactly-once would need an
idempotency table keyed by event id; not done here.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from stream.aws.cloudwatch import MetricDatum, MetricSink, PublishResult, StatisticSet
from stream.aws.pane_metrics import (
    DEAD_LETTERS,
    HostPane,
    camera_metrics,
    pane_start,
    site_metrics,
)
from stream.deadletter import DeadLetter, DeadLetterSink, reason_code
from stream.ingest import IngestConfig, check

logger = logging.getLogger("moodlens.lambda")

@runtime_checkable
class DeadLetterSender(Protocol):
    """A dead-letter sink that can say which letters it could not take (SqsDeadLetterSink)."""

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]: ...


class RetryableRecordError(Exception):
    """Raised for a record whose effects did not all happen; powertools reports it for retry."""


def ingest_config_from_env(env: Mapping[str, str]) -> IngestConfig:
    """The stream's ingest rules (`stream.ingest`), with optional overrides from the function's env."""
    default = IngestConfig()
    return IngestConfig(int(env.get("MAX_EVENT_BYTES", default.max_bytes)),
                        int(env.get("MAX_FUTURE_MS", default.max_future_ms)),
                        int(env.get("MAX_PAST_MS", default.max_past_ms)))


reason_kind = reason_code  # a short label for counting dead letters by cause (stream.deadletter)


@dataclass
class BatchOutcome:
    records: int = 0
    valid: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    panes: int = 0
    metric_requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # sequence number -> why it is retried


@dataclass(frozen=True)
class _Input:
    sequence_number: str
    source: str
    data: bytes | None
    decode_error: str | None


def _input(record: KinesisStreamRecord) -> _Input:
    shard_id = record.event_id.split(":", 1)[0]
    stream = record.event_source_arn.rsplit("/", 1)[-1]
    payload = record.kinesis
    source = f"kinesis:{stream}/{shard_id}@{payload.sequence_number}"
    try:
        return _Input(payload.sequence_number, source, base64.b64decode(payload.data, validate=True), None)
    except (binascii.Error, ValueError) as exc:
        return _Input(payload.sequence_number, source, None, f"data is not base64: {exc}")


def _deliver(sink: DeadLetterSink | DeadLetterSender, letters: list[DeadLetter]) -> list[DeadLetter]:
    """Letters the sink did not take. A sink without `send` is all or nothing."""
    try:
        if isinstance(sink, DeadLetterSender):
            return sink.send(letters)
        sink.put(letters)
        return []
    except Exception:
        logger.exception("dead-letter sink failed")
        return letters


class KinesisBatchHandler:
    """The stateless per-batch pipeline; `__call__` is the Lambda entry point for one event."""

    def __init__(self, metrics: MetricSink, dead_letters: DeadLetterSink | DeadLetterSender,
                 config: IngestConfig | None = None, *,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.config = config or IngestConfig()
        self.clock_ms = clock_ms
        self.last_outcome: BatchOutcome | None = None

    # -- the batch -------------------------------------------------------------------------------
    def process(self, records: Sequence[KinesisStreamRecord]) -> BatchOutcome:
        outcome = BatchOutcome(records=len(records))
        now = self.clock_ms()
        letters: list[tuple[str, DeadLetter]] = []
        seen: set[str] = set()
        panes: dict[tuple[str, str, int], HostPane] = defaultdict(HostPane)
        for record in records:
            item = _input(record)
            raw = item.data if item.data is not None else record.kinesis.data.encode()
            if item.decode_error is not None:
                event, reasons = None, [("$", item.decode_error)]
            else:
                try:
                    event, reasons = check(raw, now, self.config)
                except Exception as error:  # a bug must not become a poison pill: dead-letter it
                    logger.exception("unexpected error validating %s", item.source)
                    event, reasons = None, [("$", f"unexpected {type(error).__name__}: {error}")]
            if event is None:
                letters.append((item.sequence_number, DeadLetter(raw, tuple(reasons), item.source)))
                outcome.dead_letter_reasons[reason_kind(reasons)] += 1
                continue
            if event["event_id"] in seen:
                outcome.duplicates += 1
                continue
            seen.add(event["event_id"])
            outcome.valid += 1
            pane = panes[(event["site_id"], event["camera_id"], pane_start(event["event_time_ms"]))]
            pane.aggregate.add(event)
            pane.heartbeats += event["schema"] == "camera_heartbeat"
            pane.sequence_numbers.append(item.sequence_number)

        outcome.panes = len(panes)
        self._send_dead_letters(letters, outcome)
        self._publish(panes, outcome, now)
        return outcome

    def _send_dead_letters(self, letters: list[tuple[str, DeadLetter]], outcome: BatchOutcome) -> None:
        if not letters:
            return
        unsent = {id(letter) for letter in _deliver(self.dead_letters, [letter for _, letter in letters])}
        for sequence, letter in letters:
            if id(letter) in unsent:
                outcome.failures[sequence] = "dead-letter queue did not take it"
            else:
                outcome.dead_lettered += 1

    def _publish(self, panes: Mapping[tuple[str, str, int], HostPane], outcome: BatchOutcome, now: int) -> None:
        data: list[MetricDatum] = []
        sources: dict[tuple[str, tuple[tuple[str, str], ...], int, str], list[str]] = defaultdict(list)
        by_site: dict[tuple[str, int], list[HostPane]] = defaultdict(list)
        for (site, camera, minute), pane in panes.items():
            for datum in camera_metrics(site, camera, minute, pane):
                data.append(datum)
                sources[datum.key].extend(pane.sequence_numbers)
            by_site[(site, minute)].append(pane)
        for (site, minute), site_panes in by_site.items():
            for datum in site_metrics(site, minute, [p.aggregate for p in site_panes]):
                data.append(datum)
                sources[datum.key].extend(s for p in site_panes for s in p.sequence_numbers)
        if outcome.dead_lettered:
            data.append(MetricDatum(DEAD_LETTERS, (), now - now % 60_000,
                                    StatisticSet.of([float(outcome.dead_lettered)]), unit="Count"))
        if not data:
            return
        try:
            result = self.metrics.publish(data)
        except Exception as error:  # the sink itself broke: every valid record is retried
            logger.exception("metric publishing failed")
            result = PublishResult(failed=list(data), errors=[repr(error)])
        outcome.metric_requests += result.requests
        for datum in result.failed:
            for sequence in sources.get(datum.key, ()):
                outcome.failures.setdefault(sequence, f"metrics not published: {'; '.join(result.errors)[:200]}")

    # -- Lambda entry point ----------------------------------------------------------------------
    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        records = [KinesisStreamRecord(r) for r in event.get("Records", [])]
        outcome = self.last_outcome = self.process(records)
        logger.info(json.dumps({"batch": {
            "records": outcome.records, "valid": outcome.valid, "duplicates": outcome.duplicates,
            "dead_lettered": outcome.dead_lettered, "reasons": dict(outcome.dead_letter_reasons),
            "panes": outcome.panes, "retry": len(outcome.failures)}}))

        def record_handler(record: KinesisStreamRecord) -> str:
            why = outcome.failures.get(record.kinesis.sequence_number)
            if why is not None:
                raise RetryableRecordError(why)
            return "ok"

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
        return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                             context=context))


_HANDLER: KinesisBatchHandler | None = None


def _build_from_env() -> KinesisBatchHandler:
    import boto3

    from stream.aws.cloudwatch import CloudWatchPublisher
    from stream.aws.sqs_deadletter import SqsDeadLetterSink

    env = os.environ
    metrics = CloudWatchPublisher(boto3.client("cloudwatch"), env.get("METRIC_NAMESPACE", "Moodlens"))
    dead_letters = SqsDeadLetterSink(boto3.client("sqs"), env["DEAD_LETTER_QUEUE_URL"])
    return KinesisBatchHandler(metrics, dead_letters, ingest_config_from_env(env))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The function's entry point (Handler: stream.aws.lambda_handler.handler); clients made at cold start."""
    global _HANDLER
    if _HANDLER is None:
        _HANDLER = _build_from_env()
    return _HANDLER(event, context)
