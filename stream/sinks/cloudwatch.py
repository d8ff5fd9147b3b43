"""CloudWatch metrics, batched within PutMetricData's limits: single values (the host publishes the
windows' own figures, ``stream.sinks.aws``) or statistic sets (a datum that carries SampleCount, Sum,
Minimum and Maximum is merged by CloudWatch with every other datum of the same metric, dimensions and
minute).

The namespace, metric and dimension names are declared here, once: the host and the drift check
write them through `CloudWatchPublisher`, the stack's alarms and dashboard (``deploy``) read them.

This module imports no AWS SDK: `MetricSink` is what the hosts call, `CloudWatchPublisher` wraps any
object with boto3's `put_metric_data` signature, `MemoryMetricSink` keeps data for tests and the
embedded path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

NAMESPACE = "Moodlens"
# From the windows of the alarm's length, per site (no Camera dimension) and per site and camera.
NET_SCORE, TRACKS, FACES = "NetScore", "Tracks", "Faces"
HEARTBEAT = "Heartbeat"  # one sample per camera and minute with a heartbeat
# One sample per wall-clock minute in which the consumer wrote outputs, no dimensions: what tells the
# stack's consumer-silent alarm apart from every camera's silence.
CONSUMER_ALIVE = "ConsumerAlive"
DEAD_LETTERS = "DeadLetters"  # records dead-lettered, at processing time, no dimensions
MODEL_DRIFT = "ModelDrift"  # the model's PSI per site, camera and day
MODEL_DRIFT_MAX = "ModelDriftMax"  # the largest PSI of a drift run, no dimensions: what the alarm watches
SITE, CAMERA = "Site", "Camera"  # dimensions
# PutMetricData (2024+): at most 1000 metrics per request, 1 MB per POST, 30 dimensions per metric,
# 150 distinct Values per datum; timestamps up to two weeks old and up to two hours ahead.
MAX_DATA_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 1_000_000
MAX_DIMENSIONS = 30
# Margin for the request's own encoding (names, namespace, protocol framing) over our estimate.
_REQUEST_BYTES_BUDGET = MAX_REQUEST_BYTES // 2


@dataclass(frozen=True)
class StatisticSet:
    sample_count: float
    sum: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> StatisticSet:
        if not values:
            raise ValueError("a statistic set needs at least one value")
        return cls(float(len(values)), float(sum(values)), float(min(values)), float(max(values)))

    def merge(self, other: StatisticSet) -> StatisticSet:
        return StatisticSet(self.sample_count + other.sample_count, self.sum + other.sum,
                            min(self.minimum, other.minimum), max(self.maximum, other.maximum))

    def to_api(self) -> dict[str, float]:
        return {"SampleCount": self.sample_count, "Sum": self.sum, "Minimum": self.minimum,
                "Maximum": self.maximum}


@dataclass(frozen=True)
class MetricDatum:
    """One metric data point at an event-time timestamp; `statistics` (preferred) or a single `value`."""

    name: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp_ms: int
    statistics: StatisticSet | None = None
    value: float | None = None
    unit: str = "None"

    def __post_init__(self) -> None:
        if (self.statistics is None) == (self.value is None):
            raise ValueError(f"{self.name}: give exactly one of statistics or value")
        if len(self.dimensions) > MAX_DIMENSIONS:
            raise ValueError(f"{self.name}: {len(self.dimensions)} dimensions, CloudWatch allows {MAX_DIMENSIONS}")
        numbers = [self.value] if self.value is not None else list(self.statistics.to_api().values())  # type: ignore[union-attr]
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError(f"{self.name}: CloudWatch rejects NaN and infinities, got {numbers}")

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...], int, str]:
        """Data with the same key are one CloudWatch data point and can be merged before sending."""
        return self.name, self.dimensions, self.timestamp_ms, self.unit

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "MetricName": self.name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
            "Timestamp": datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC),
            "Unit": self.unit,
            "StorageResolution": 60,
        }
        if self.statistics is not None:
            item["StatisticValues"] = self.statistics.to_api()
        else:
            item["Value"] = self.value
        return item


def merge_data(data: Sequence[MetricDatum]) -> list[MetricDatum]:
    """Merges statistic sets with the same metric, dimensions, minute and unit (fewer API items)."""
    merged: dict[tuple[str, tuple[tuple[str, str], ...], int, str], MetricDatum] = {}
    singles: list[MetricDatum] = []
    for datum in data:
        if datum.statistics is None:
            singles.append(datum)
            continue
        existing = merged.get(datum.key)
        if existing is None or existing.statistics is None:
            merged[datum.key] = datum
        else:
            merged[datum.key] = MetricDatum(datum.name, datum.dimensions, datum.timestamp_ms,
                                            existing.statistics.merge(datum.statistics), unit=datum.unit)
    return list(merged.values()) + singles


def _estimated_bytes(datum: MetricDatum) -> int:
    item = datum.to_api()
    item["Timestamp"] = datum.timestamp_ms
    return len(json.dumps(item)) + 64


def chunk(data: Sequence[MetricDatum], max_items: int = MAX_DATA_PER_REQUEST,
          max_bytes: int = _REQUEST_BYTES_BUDGET) -> list[list[MetricDatum]]:
    """Splits data into PutMetricData requests under the item and (estimated) size limits."""
    if not 1 <= max_items <= MAX_DATA_PER_REQUEST:
        raise ValueError(f"max_items must be 1..{MAX_DATA_PER_REQUEST}")
    chunks: list[list[MetricDatum]] = []
    current: list[MetricDatum] = []
    size = 0
    for datum in data:
        item_bytes = _estimated_bytes(datum)
        if current and (len(current) >= max_items or size + item_bytes > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(datum)
        size += item_bytes
    if current:
        chunks.append(current)
    return chunks


@dataclass
class PublishResult:
    """What was sent and what was not; `failed` data can be retried (e.g. by failing their records)."""

    requests: int = 0
    sent: list[MetricDatum] = field(default_factory=list)
    failed: list[MetricDatum] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class MetricSink(Protocol):
    def publish(self, data: Sequence[MetricDatum]) -> PublishResult: ...


class MemoryMetricSink:
    """Keeps every datum; `statistics(name, dims)` merges them the way CloudWatch would."""

    def __init__(self) -> None:
        self.data: list[MetricDatum] = []

    def publish(self, data: Sequence[MetricDatum]) -> PublishResult:
        self.data.extend(data)
        return PublishResult(requests=1, sent=list(data))

    def statistics(self, name: str, dimensions: Mapping[str, str]) -> dict[int, StatisticSet]:
        wanted = tuple(sorted(dimensions.items()))
        out: dict[int, StatisticSet] = {}
        for datum in self.data:
            if datum.name == name and tuple(sorted(datum.dimensions)) == wanted and datum.statistics:
                previous = out.get(datum.timestamp_ms)
                out[datum.timestamp_ms] = datum.statistics if previous is None else previous.merge(datum.statistics)
        return out


class CloudWatchPublisher:
    """Publishes to CloudWatch with boto3's client. A request that fails (throttled, 5xx after the
    SDK's own retries, rejected) marks its data failed; the rest still go out."""

    def __init__(self, client: Any, namespace: str = NAMESPACE, *, max_items: int = MAX_DATA_PER_REQUEST,
                 max_bytes: int = _REQUEST_BYTES_BUDGET) -> None:
        self.client = client
        self.namespace = namespace
        self.max_items = max_items
        self.max_bytes = max_bytes

    def publish(self, data: Sequence[MetricDatum]) -> PublishResult:
        result = PublishResult()
        for request in chunk(merge_data(data), self.max_items, self.max_bytes):
            result.requests += 1
            try:
                self.client.put_metric_data(Namespace=self.namespace, MetricData=[d.to_api() for d in request])
            except Exception as error:  # botocore ClientError or a connection error: retry via the record
                code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
                result.failed.extend(request)
                result.errors.append(f"{code}: {error}")
            else:
                result.sent.extend(request)
        return result
