"""The CloudWatch statistic-set publisher: batching limits, merging, and data that moto server stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stream.sinks.cloudwatch import (
    CloudWatchPublisher,
    MemoryMetricSink,
    MetricDatum,
    StatisticSet,
    chunk,
    merge_data,
)

T0 = 1_790_000_040_000 - 1_790_000_040_000 % 60_000


def datum(name: str = "NetScore", camera: str = "cam-a", minute: int = 0, values: tuple[float, ...] = (1.0,),
          site: str = "cafe-1") -> MetricDatum:
    return MetricDatum(name, (("Site", site), ("Camera", camera)), T0 + minute * 60_000, StatisticSet.of(values))


@pytest.mark.parametrize(("count", "max_items", "expected_sizes"), [
    (0, 1000, []),
    (1, 1000, [1]),
    (1000, 1000, [1000]),
    (1001, 1000, [1000, 1]),
    (2500, 1000, [1000, 1000, 500]),
    (7, 3, [3, 3, 1]),
])
def test_chunk_respects_the_item_limit(count: int, max_items: int, expected_sizes: list[int]) -> None:
    data = [datum(camera=f"cam-{i}") for i in range(count)]
    assert [len(c) for c in chunk(data, max_items)] == expected_sizes


def test_chunk_respects_the_byte_budget() -> None:
    data = [datum(camera=f"cam-{i}") for i in range(50)]
    chunks = chunk(data, max_items=1000, max_bytes=2_000)
    assert len(chunks) > 1
    assert sum(len(c) for c in chunks) == 50


@pytest.mark.parametrize("bad", [
    {"value": float("nan")},
    {"value": float("inf")},
    {"statistics": StatisticSet(1, float("nan"), 0, 0)},
    {},  # neither
    {"value": 1.0, "statistics": StatisticSet.of([1.0])},  # both
])
def test_datum_rejects_what_cloudwatch_would(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MetricDatum("X", (("Site", "s"),), T0, **bad)


def test_merge_data_adds_statistic_sets_of_the_same_point_only() -> None:
    merged = merge_data([datum(values=(1.0, -1.0)), datum(values=(0.0,)), datum(minute=1, values=(1.0,)),
                         datum(camera="cam-b", values=(-1.0,))])
    by_key = {(d.dimensions, d.timestamp_ms): d.statistics for d in merged}
    assert by_key[((("Site", "cafe-1"), ("Camera", "cam-a")), T0)] == StatisticSet(3, 0.0, -1.0, 1.0)
    assert len(merged) == 3


class ThrottledError(Exception):
    def __init__(self) -> None:
        super().__init__("Rate exceeded")
        self.response = {"Error": {"Code": "Throttling"}}


class FlakyClient:
    """Fails the n-th put_metric_data call(s); records every call."""

    def __init__(self, fail_calls: set[int]) -> None:
        self.fail_calls = fail_calls
        self.calls: list[list[dict[str, Any]]] = []

    def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:  # noqa: N803
        self.calls.append(MetricData)
        if len(self.calls) - 1 in self.fail_calls:
            raise ThrottledError()


def test_failed_request_marks_only_its_data_failed() -> None:
    client = FlakyClient(fail_calls={1})
    data = [datum(camera=f"cam-{i}") for i in range(5)]
    result = CloudWatchPublisher(client, max_items=2).publish(data)
    assert result.requests == 3
    assert [d.dimensions[1][1] for d in result.failed] == ["cam-2", "cam-3"]
    assert len(result.sent) == 3
    assert result.errors and result.errors[0].startswith("Throttling")


def test_statistic_sets_from_two_batches_merge_in_moto_cloudwatch(aws_client: Any, unique: str) -> None:
    cloudwatch = aws_client("cloudwatch")
    site = f"site-{unique}"
    publisher = CloudWatchPublisher(cloudwatch)
    # Two batches (two shards, say) each see part of the same camera-minute.
    first = publisher.publish([datum(site=site, values=(1.0, 1.0, -1.0))])
    second = publisher.publish([datum(site=site, values=(0.0, -1.0))])
    assert first.ok and second.ok
    stats = cloudwatch.get_metric_statistics(
        Namespace="Moodlens", MetricName="NetScore",
        Dimensions=[{"Name": "Site", "Value": site}, {"Name": "Camera", "Value": "cam-a"}],
        StartTime=datetime.fromtimestamp(T0 / 1000 - 60, UTC), EndTime=datetime.fromtimestamp(T0 / 1000 + 120, UTC),
        Period=60, Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"])["Datapoints"]
    assert len(stats) == 1
    point = stats[0]
    assert point["Timestamp"] == datetime.fromtimestamp(T0 / 1000, UTC)  # event time, not arrival
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"]) == (5, 0.0, -1.0, 1.0)
    assert point["Average"] == pytest.approx(0.0)


def test_memory_sink_merges_like_cloudwatch() -> None:
    sink = MemoryMetricSink()
    sink.publish([datum(values=(1.0,)), datum(values=(-1.0, -1.0))])
    assert sink.statistics("NetScore", {"Site": "cafe-1", "Camera": "cam-a"}) == {
        T0: StatisticSet(3, -1.0, -1.0, 1.0)}

