"""The CloudFormation template: generated from the engine's config (committed copy up to date), valid
for cfn-lint (moto's CloudFormation skips alarm resources, so it proves nothing here), and alarms that
use the engine's thresholds on metrics the stream host really publishes (``stream.sinks.aws``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from stream.alarms import AlarmConfig
from stream.aws.cloudwatch import NAMESPACE, MemoryMetricSink
from stream.aws.infra import build_template, logical_id, render
from stream.deadletter import DeadLetter
from stream.engine import EngineConfig
from stream.host.sites import Applied, Emitted, Sites
from stream.sinks.aws import AwsOutputs
from tests.schemas.events import EVENT_TIME_MS, camera_heartbeat, face_expression

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra" / "cloudformation"
TEMPLATE = INFRA / "moodlens-stream.json"
INVENTORY: dict[str, list[str]] = json.loads((INFRA / "inventory.json").read_text())


def committed() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE.read_text()))


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def alarms_of(template: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [p for p in resources(template, "AWS::CloudWatch::Alarm").values()
            if p["AlarmName"]["Fn::Sub"].startswith(f"${{AWS::StackName}}-{rule}-")]


def test_committed_template_is_what_the_generator_makes_from_the_engine_config() -> None:
    assert TEMPLATE.read_text() == render(build_template(INVENTORY)), (
        "regenerate: python -m stream.aws.infra --inventory infra/cloudformation/inventory.json "
        "--out infra/cloudformation/moodlens-stream.json")


def test_cfn_lint_finds_nothing() -> None:
    matches = lint(TEMPLATE.read_text(), config=ManualArgs(regions=["eu-west-1"]))
    assert [str(m) for m in matches] == []


CONFIGS = [AlarmConfig(), AlarmConfig(window_minutes=5, min_tracks=8, low_raise=-0.35, low_clear=-0.1, raise_m=2,
                                      raise_n=4, clear_m=3, drop_sigmas=3.0, silent_minutes=10, cameras=False)]


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "custom"])
def test_alarm_rules_carry_the_engine_thresholds(config: AlarmConfig) -> None:
    template = committed() if config == AlarmConfig() else build_template(INVENTORY, config)
    cameras = [(site, camera) for site, cams in INVENTORY.items() for camera in cams]

    low = alarms_of(template, "low-sentiment")
    assert len(low) == len(INVENTORY) + (len(cameras) if config.cameras else 0)
    for alarm in low:
        assert alarm["Threshold"] == config.low_raise
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (config.raise_m, config.raise_n)
        assert alarm["ComparisonOperator"] == "LessThanThreshold"
        assert {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m} == {
            config.window_minutes * 60}
        gate = next(m["Expression"] for m in alarm["Metrics"] if m.get("ReturnData"))
        assert re.fullmatch(rf"IF\(votes >= {config.min_tracks}, net, 1\)", gate)

    drop = alarms_of(template, "sentiment-drop")
    assert len(drop) == len(INVENTORY)
    for alarm in drop:
        band = next(m["Expression"] for m in alarm["Metrics"] if m["Id"] == alarm["ThresholdMetricId"])
        assert band == f"ANOMALY_DETECTION_BAND(net, {config.drop_sigmas:g})"
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (config.raise_m, config.raise_n)

    silent = alarms_of(template, "camera-silent")
    assert len(silent) == len(cameras)
    for alarm in silent:
        assert alarm["Period"] == 60
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == config.silent_minutes
        assert alarm["TreatMissingData"] == "breaching"


@pytest.mark.parametrize(("alarms", "match"), [
    (AlarmConfig(window_minutes=7), "not one of the engine's windows"),
    (AlarmConfig(low_raise=1.0, low_clear=1.0), "too few tracks"),  # the gate's filler value would breach
])
def test_rules_the_template_cannot_express_are_refused(alarms: AlarmConfig, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_template(INVENTORY, alarms, EngineConfig(window_minutes=(5, 15)))


def _published_metrics() -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """(metric name, dimensions) the host's AWS outputs publish for every inventory camera."""
    sink = MemoryMetricSink()
    events: list[dict[str, Any]] = []
    for site, cameras in INVENTORY.items():
        for camera in cameras:
            for i in range(8):
                events.append(face_expression(site_id=site, camera_id=camera, track_id=f"t{i}",
                                              event_id=f"{site}{camera}{i}", event_time_ms=EVENT_TIME_MS + i))
            events.append(camera_heartbeat(site_id=site, camera_id=camera, event_time_ms=EVENT_TIME_MS))
    sites = Sites(EngineConfig(), AlarmConfig())
    out = Emitted()
    out.extend(sites.apply([Applied(e, "p", i) for i, e in enumerate(events)]))
    out.extend(sites.flush())
    AwsOutputs(metrics=sink, metric_window_minutes=AlarmConfig().window_minutes).write(
        out, [DeadLetter(b"x", (("$", "malformed JSON"),), "test")])
    return {(d.name, frozenset(d.dimensions)) for d in sink.data}


def _alarm_metrics(template: dict[str, Any]) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    out = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        if "MetricName" in alarm:
            stats.append(alarm)
        for metric in stats:
            if metric["Namespace"] == NAMESPACE and metric.get("Dimensions"):
                out.add((metric["MetricName"],
                         frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))))
    return out


def test_every_alarm_reads_a_metric_the_host_publishes_with_the_same_dimensions() -> None:
    wanted = _alarm_metrics(committed())
    assert wanted  # sites and cameras of the inventory
    assert wanted <= _published_metrics()


def test_role_is_least_privilege() -> None:
    role = resources(committed(), "AWS::IAM::Role")["ConsumerRole"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert all("*" not in a for a in actions)
    assert not any(a.startswith(("kinesis:Put", "sqs:Receive", "sqs:Delete", "iam:")) for a in actions)
    for statement in statements:
        if statement["Resource"] == "*":  # PutMetricData has no resource type: scope by namespace
            assert statement["Action"] == "cloudwatch:PutMetricData"
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}


@pytest.mark.parametrize(("parts", "other"), [
    (("LowSentiment", "lobby.1"), ("LowSentiment", "lobby_1")),
    (("CameraSilent", "a-b", "c"), ("CameraSilent", "a", "b-c")),
])
def test_logical_ids_are_alphanumeric_and_distinct(parts: tuple[str, ...], other: tuple[str, ...]) -> None:
    assert re.fullmatch(r"[A-Za-z0-9]+", logical_id(*parts))
    assert logical_id(*parts) != logical_id(*other)
