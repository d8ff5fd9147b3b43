"""The stack and the code inside the image agree on names: the consumer's task sets every variable
`stream run` reads its outputs from, and every Moodlens metric the stack's alarms watch is one the
host or the drift check writes (read from the committed template, written by the real writers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from deploy import container
from moodlens.cli import build_parser
from moodlens.commands.model_drift import put_drift_metrics
from stream.deadletter import DeadLetter
from stream.host.sites import Emitted
from stream.sinks.aws import AwsOutputs
from stream.sinks.cloudwatch import MemoryMetricSink
from tests.deploy.test_container_commands import concrete
from tests.schemas.events import sentiment_window

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "cloudformation" / "moodlens.json"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE.read_text())["Resources"])


def test_the_consumer_task_sets_every_output_stream_run_reads(resources: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    [definition] = resources["ConsumerTask"]["Properties"]["ContainerDefinitions"]
    for variable in definition["Environment"]:
        monkeypatch.setenv(variable["Name"], json.dumps(variable["Value"]))  # any non-empty text will do
    args = build_parser().parse_args(concrete(container.consumer_command()))  # the flags' defaults read them now
    outputs = {name: getattr(args, name) for name in
               ("firehose", "sns_topic", "event_bus", "metrics_namespace", "dead_letter_queue")}
    assert all(outputs.values()), outputs
    assert args.metrics_namespace == json.dumps(container.METRIC_NAMESPACE)


def _metrics(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if "MetricName" in value and "Namespace" in value:
            yield value["Namespace"], value["MetricName"]
        for item in value.values():
            yield from _metrics(item)
    elif isinstance(value, list):
        for item in value:
            yield from _metrics(item)


class _Client:
    def __init__(self) -> None:
        self.names: set[tuple[str, str]] = set()

    def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:  # noqa: N803
        self.names |= {(Namespace, datum["MetricName"]) for datum in MetricData}


def test_every_moodlens_metric_an_alarm_watches_is_written(resources: dict[str, Any]) -> None:
    watched = {pair for resource in resources.values() if resource["Type"] == "AWS::CloudWatch::Alarm"
               for pair in _metrics(resource["Properties"]) if pair[0] == container.METRIC_NAMESPACE}
    assert watched  # the net-score and drift alarms

    host = MemoryMetricSink()
    windows = [sentiment_window(), sentiment_window(camera_id="cam-a")]
    letter = DeadLetter(b"{", (("$", "malformed JSON"),), "log@1", "malformed_json")
    AwsOutputs(metrics=host, metric_window_minutes=5).write(
        Emitted(windows=windows, heartbeats=[("cafe-1", "cam-a", windows[0]["window_end_ms"])]), [letter])
    drift = _Client()
    put_drift_metrics([SimpleNamespace(site_id="cafe-1", camera_id="cam-a", day="2026-10-01", psi=0.3)],
                      {"cafe-1": "Europe/Berlin"}, None, drift)

    written = {(container.METRIC_NAMESPACE, datum.name) for datum in host.data} | drift.names
    assert watched <= written, watched - written
