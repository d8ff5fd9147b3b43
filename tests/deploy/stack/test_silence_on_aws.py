"""The silence alarms on moto, fed by the real consumer: a camera that never sends is alarmed, the
others are not, and a stopped consumer raises its one alarm while the cameras' messages are held.

The stack is deployed with the real deployer (moto's part of it: topic, stream, state bucket); moto's
CloudFormation skips alarms, so the template's metric alarms are put with put_metric_alarm exactly as
the template defines them and read back. moto never evaluates an alarm and has no composite alarms
(no PutCompositeAlarm), so the evaluation is `tests.deploy.alarm_rules`, applied to the datapoints the
real `moodlens stream run` put into moto's CloudWatch from heartbeats the edge's own heartbeat
producer made. Time is the wall clock of the run: heartbeats over the last minutes, the consumer's
ConsumerAlive in the minute it ran; "the consumer stopped" is the evaluation carried on past that
minute with nothing new put.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploy.stack.silence import CONSUMER_SILENT
from edge.heartbeat import FrameHeartbeats, PipelineCounters
from moodlens.cli import main
from stream.alarms import AlarmConfig
from tests.deploy.alarm_rules import Composite, metric_state, notifications
from tests.deploy.moto_stack import moto_subset

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "infra" / "cloudformation" / "moodlens.json"
INVENTORY: dict[str, list[str]] = json.loads((REPO / "infra" / "cloudformation" / "inventory.json").read_text())
# This test's own region: ConsumerAlive has no dimensions, and consumers of other tests put theirs in
# the session's default region.
REGION = "ap-southeast-2"
NEVER = ("cinema-2", "lobby_1")  # the camera that never sends
MINUTE = 60_000
SILENT = AlarmConfig().silent_minutes  # what the committed template was generated with


def resolve(node: Any, values: dict[str, str]) -> Any:
    """The template's Ref, GetAtt and Sub with the deployed stack's values."""
    if isinstance(node, dict):
        if list(node) == ["Ref"]:
            return values[node["Ref"]]
        if list(node) == ["Fn::GetAtt"]:
            return values[".".join(node["Fn::GetAtt"])]
        if list(node) == ["Fn::Sub"]:
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], node["Fn::Sub"])
        return {key: resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    return node


class _Spool:
    dropped_count = 0

    def depth(self) -> int:
        return 0


class _Collected:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def heartbeats(site: str, camera: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """What `moodlens edge run` publishes for a camera delivering a frame a second from start to end."""
    sink = _Collected()
    beats = FrameHeartbeats(site, camera, _Spool(), lambda: "expression-1", "test", 60.0, sink)
    frames = 0
    for frames, at in enumerate(range(start_ms, end_ms, 1000), start=1):
        beats.on_frame(PipelineCounters(frames=frames, faces=0, open_tracks=0), at)
    beats.finish(PipelineCounters(frames=frames + 1, faces=0, open_tracks=0))
    return sink.events


def deploy(endpoint: str, tmp_path: Path, stack: str) -> dict[str, str]:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(moto_subset(json.loads(TEMPLATE.read_text()))))
    assert main(["infra", "deploy", "--endpoint-url", endpoint, "--region", REGION, "--template", str(path),
                 "--stack-name", stack]) == 0
    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION)
    return {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}


def datapoints(cloudwatch: Any, alarm: dict[str, Any], since_ms: int, until_ms: int) -> dict[int, float]:
    stats = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        Period=alarm["Period"], Statistics=[alarm["Statistic"]],
        StartTime=datetime.fromtimestamp(since_ms / 1000, UTC), EndTime=datetime.fromtimestamp(until_ms / 1000, UTC))
    return {int(p["Timestamp"].timestamp() * 1000): p[alarm["Statistic"]] for p in stats["Datapoints"]}


def test_a_never_started_camera_alarms_and_a_stopped_consumer_raises_one_alarm_not_one_per_camera(
        aws_env: str, unique: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = f"silence-{unique}"
    outputs = deploy(aws_env, tmp_path, stack)
    client: Callable[[str], Any] = lambda service: boto3.client(service, endpoint_url=aws_env,  # noqa: E731
                                                                 region_name=REGION)
    cloudwatch = client("cloudwatch")
    resources = json.loads(TEMPLATE.read_text())["Resources"]
    values = {"AWS::StackName": stack, "AlarmTopic": outputs["AlarmTopicArn"]}
    defined = {key: resolve(r["Properties"], values) for key, r in resources.items()
               if r["Type"] == "AWS::CloudWatch::Alarm" and (key == CONSUMER_SILENT or key.startswith("Heartbeats"))}
    created_ms = int(time.time() * 1000)
    for properties in defined.values():
        cloudwatch.put_metric_alarm(**properties)
    stored = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{stack}-")["MetricAlarms"]}
    alarms = {key: stored[p["AlarmName"]] for key, p in defined.items()}  # read back: what moto holds
    for key, properties in defined.items():
        for field in ("MetricName", "Namespace", "Dimensions", "Statistic", "Period", "EvaluationPeriods",
                      "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "AlarmActions",
                      "OKActions"):
            assert alarms[key].get(field, []) == properties.get(field, []), (key, field)
    cameras = {(a["Dimensions"][0]["Value"], a["Dimensions"][1]["Value"]): key for key, a in alarms.items()
               if a["MetricName"] == "Heartbeat"}
    assert set(cameras) == {(site, camera) for site, cams in INVENTORY.items() for camera in cams}
    values.update({f"{key}.Arn": alarm["AlarmArn"] for key, alarm in alarms.items()})

    # The edges: every camera but one has sent a heartbeat a minute over the last twelve minutes.
    now_ms = int(time.time() * 1000)
    start_ms = now_ms // MINUTE * MINUTE - 12 * MINUTE
    events = sorted((beat for site, cams in INVENTORY.items() for camera in cams if (site, camera) != NEVER
                     for beat in heartbeats(site, camera, start_ms, now_ms)), key=lambda e: e["event_time_ms"])
    kinesis = client("kinesis")
    # the template versions the state bucket; moto's CloudFormation leaves that out
    client("s3").put_bucket_versioning(Bucket=outputs["StateBucket"], VersioningConfiguration={"Status": "Enabled"})
    kinesis.put_records(StreamName=outputs["StreamName"], Records=[
        {"Data": json.dumps(e).encode(), "PartitionKey": e["site_id"]} for e in events])
    # The consumer, as the stack's task runs it (its outputs from flags here instead of the task's environment).
    assert main(["stream", "run", "--source", f"kinesis://{outputs['StreamName']}", "--endpoint-url", aws_env,
                 "--region", REGION, "--state", f"s3://{outputs['StateBucket']}/consumer", "--out",
                 str(tmp_path / "out"), "--metrics-namespace", alarms[CONSUMER_SILENT]["Namespace"],
                 "--once"]) == 0
    ran_ms = int(time.time() * 1000) // MINUTE * MINUTE
    assert f"read {len(events)} records" in capsys.readouterr().err

    minutes = [ran_ms + MINUTE * i for i in range(1, 3 * SILENT + 4)]
    data = {key: datapoints(cloudwatch, alarm, start_ms - MINUTE, minutes[-1]) for key, alarm in alarms.items()}
    states = {key: [metric_state(alarm, data[key], t) for t in minutes] for key, alarm in alarms.items()}

    # Right after the run, the consumer alive: only the camera that never sent is in ALARM.
    assert {key for key in alarms if states[key][0] == "ALARM"} == {cameras[NEVER]}
    # Then nothing more is put: the consumer-silent alarm raises, and so does every camera's.
    assert all(states[key][-1] == "ALARM" for key in alarms)

    composites = [Composite(props["AlarmName"], child=re.fullmatch(r'ALARM\("(.+)"\)', props["AlarmRule"])[1],
                            suppressor=props["ActionsSuppressor"], wait_s=props["ActionsSuppressorWaitPeriod"],
                            extension_s=props["ActionsSuppressorExtensionPeriod"])
                  for props in (resolve(r["Properties"], values) for r in resources.values()
                                if r["Type"] == "AWS::CloudWatch::CompositeAlarm")]
    by_arn = {alarm["AlarmArn"]: key for key, alarm in alarms.items()}
    assert {by_arn[c.child] for c in composites} == set(cameras.values())
    assert {by_arn[c.suppressor] for c in composites} == {CONSUMER_SILENT}
    # New alarms start without data; the messages from then on, as CloudWatch would send them:
    timeline = [created_ms, *minutes]
    arn_states = {alarms[key]["AlarmArn"]: ["INSUFFICIENT_DATA", *series] for key, series in states.items()}
    silent = alarms[CONSUMER_SILENT]["AlarmArn"]
    sent = notifications(composites, arn_states, timeline, [silent])
    raised = [(at, name) for at, name, state in sent if state == "ALARM"]
    never = next(c.name for c in composites if by_arn[c.child] == cameras[NEVER])
    stopped_at = minutes[states[CONSUMER_SILENT].index("ALARM")]
    # the camera that never sent is told at once; the stopped consumer is told once, and no camera with it
    assert raised == [(minutes[0], never), (stopped_at, silent)], sent
    assert alarms[CONSUMER_SILENT]["AlarmActions"] == [outputs["AlarmTopicArn"]]

