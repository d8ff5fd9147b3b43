"""What raises on AWS when nothing arrives: a camera that never sent or stopped sending, and a consumer
that publishes nothing.

The engine's own ``camera_silent`` works in event time and only for cameras it has heard from, so it
cannot see a camera that never starts, nor any camera while the consumer is down. CloudWatch can: its
alarms run on their own clock and can count a missing datapoint as breaching.

- Per inventory camera, a metric alarm on its ``Heartbeat`` (the host puts one sample per camera and
  minute with a heartbeat): ALARM when none arrived in ``silent_minutes`` consecutive 60-second
  periods, missing data breaching, so a camera that never starts raises ``silent_minutes`` after the
  stack is created. It has no actions of its own.
- Per camera, a composite alarm on that one carries the actions (the alarm topic; OK when heartbeats
  resume) and the words an operator reads, with the consumer-silent alarm as its actions suppressor.
- One consumer-silent alarm on ``ConsumerAlive`` (the consumer puts one sample per wall-clock minute it
  writes in) with the same rule. When the consumer is down, crash-looping or handed no records at all,
  every camera alarm raises too; their messages are held while this one is raised, so operations get
  one message instead of one per camera.

The rule and its number (``AlarmConfig.silent_minutes``) are the stream's, the same setting the box's
camera watch uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deploy import container as c
from deploy.stack.cfn import Json, att, named, ref, sub
from deploy.stack.logical import logical_id
from stream.alarms import AlarmConfig

CONSUMER_SILENT = "ConsumerSilentAlarm"
PERIOD_S = 60
MAX_EVALUATION_S = 86_400  # CloudWatch: a 60-second alarm looks back at most one day
DESCRIPTION_LIMIT = 1024  # CloudWatch's AlarmDescription


def _silent_rule(config: AlarmConfig) -> Json:
    """No datapoint in `silent_minutes` consecutive minutes; a missing minute counts against it."""
    if config.silent_minutes * PERIOD_S > MAX_EVALUATION_S:
        raise ValueError(f"silent_minutes {config.silent_minutes}: a CloudWatch alarm on 60-second periods looks "
                         f"back at most {MAX_EVALUATION_S // PERIOD_S} minutes")
    return {"Statistic": "SampleCount", "Period": PERIOD_S, "EvaluationPeriods": config.silent_minutes,
            "DatapointsToAlarm": config.silent_minutes, "Threshold": 1, "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching"}


def _actions() -> Json:
    return {"AlarmActions": [ref("AlarmTopic")], "OKActions": [ref("AlarmTopic")]}


def consumer_silent_alarm(config: AlarmConfig) -> dict[str, Json]:
    minutes = config.silent_minutes
    return {CONSUMER_SILENT: {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": named("consumer-silent"),
        "AlarmDescription": (
            f"The stream consumer has written nothing for {minutes} minutes: its ECS service runs no task or "
            "the task keeps failing, or no record reaches it at all (IoT rule, Kinesis stream). Every camera "
            "looks silent then, so the camera-silent messages are held back while this alarm is raised. Check "
            "the consumer service's running tasks and its log group, and the dashboard's 'Events in (Kinesis)' "
            "and 'IoT rule' graphs. Clears with the consumer's next write."),
        "Namespace": c.METRIC_NAMESPACE, "MetricName": c.CONSUMER_ALIVE, **_silent_rule(config), **_actions()}}}


def _site_label(site: str, names: Mapping[str, str]) -> str:
    name = names.get(site, site)
    return f"{name} (site {site})" if name != site else f"site {site}"


def suppressor_wait_s(allowed_lateness_ms: int) -> int:
    """How long a camera-silent alarm's actions wait for the consumer-silent alarm. A heartbeat reaches
    CloudWatch when the engine closes its minute, once event time is ``allowed_lateness_ms`` past the
    minute's end, stamped at the minute's start: up to lateness + 1 minute behind the ConsumerAlive the
    consumer put at the same moment. When the consumer stops, its cameras' alarms raise that much
    earlier than the consumer-silent alarm; one more minute for CloudWatch's own evaluation."""
    return -(-allowed_lateness_ms // 1000) + 2 * PERIOD_S


def camera_alarms(config: AlarmConfig, allowed_lateness_ms: int, inventory: Mapping[str, Sequence[str]],
                  site_names: Mapping[str, str] | None = None) -> dict[str, Json]:
    """Two resources per camera: its heartbeat alarm (no actions) and its camera-silent alarm (actions,
    held back while the consumer is silent). ``allowed_lateness_ms``: the engine's."""
    rule, minutes, names = _silent_rule(config), config.silent_minutes, site_names or {}
    wait_s = suppressor_wait_s(allowed_lateness_ms)
    resources: dict[str, Json] = {}
    for site in sorted(inventory):
        where = _site_label(site, names)
        for camera in sorted(inventory[site]):
            heartbeats = logical_id("heartbeats", site, camera)
            says = (f"camera {camera} at {where}: no heartbeat in {minutes} consecutive minutes "
                    f"(the camera-silent-{site}-{camera} alarm sends the messages)")
            resources[heartbeats] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": named(f"heartbeats-{site}-{camera}"), "AlarmDescription": says[:DESCRIPTION_LIMIT],
                "Namespace": c.METRIC_NAMESPACE, "MetricName": c.HEARTBEAT,
                "Dimensions": [{"Name": c.SITE_DIMENSION, "Value": site},
                               {"Name": c.CAMERA_DIMENSION, "Value": camera}],
                **rule}}
            text = (f"Camera {camera} at {where} has sent no heartbeat for {minutes} minutes, or none since this "
                    "stack was created. Its sentiment figures are missing meanwhile. Check the camera (power, "
                    "cable, stream), the edge box running it (`moodlens edge`), and the site's uplink: several "
                    "cameras of one site silent at once point at the box or the uplink. Clears with the camera's "
                    "next heartbeat.")
            resources[logical_id("camera-silent", site, camera)] = {
                "Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {
                    "AlarmName": named(f"camera-silent-{site}-{camera}"),
                    "AlarmDescription": text[:DESCRIPTION_LIMIT],
                    "AlarmRule": sub(f'ALARM("${{{heartbeats}.Arn}}")'),
                    "ActionsSuppressor": att(CONSUMER_SILENT),
                    "ActionsSuppressorWaitPeriod": wait_s,
                    # once the consumer is back, a camera's alarm clears at its first heartbeat within
                    # silent_minutes, which reaches CloudWatch as late as it does on the way down
                    "ActionsSuppressorExtensionPeriod": max(wait_s, minutes * PERIOD_S),
                    **_actions()}}
    return resources
