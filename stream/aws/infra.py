"""Generates the CloudFormation template of the AWS mode's stream and alarms from the engine's own
configuration, so the CloudWatch alarms cannot drift from the embedded engine's rules.

The stateless Lambda consumer is retired (issue 10): the consumer is the stream host
(``moodlens stream run --source kinesis://... --state s3://...`` on ECS, or KCL workers), which
publishes NetScore/Tracks/Faces per site and camera from its windows, Heartbeat per camera minute and
DeadLetters (``stream.sinks.aws``). This template keeps the stream, the dead-letter queue, the
consumer's task role and the alarms; the ECS service itself comes from the stack generator.

    python -m stream.aws.infra --inventory infra/cloudformation/inventory.json \\
        --out infra/cloudformation/moodlens-stream.json

Resources: the Kinesis stream (partition key = site), the SQS dead-letter queue (schema-invalid
records, with payload and reasons), the consumer's least-privilege task role, and the alarms.

Alarm rules, from `stream.alarms.AlarmConfig` and `stream.engine.EngineConfig`, and what CloudWatch
cannot express exactly (the embedded engine is the reference):

* low_sentiment, per site and (if ``cameras``) per camera: the NetScore average over a period of
  ``window_minutes``, counted only when SampleCount >= ``min_tracks`` (metric math IF; otherwise a
  non-breaching 1); ALARM when ``raise_m`` of ``raise_n`` periods are below ``low_raise``.
  Differences: CloudWatch periods are tumbling, the engine's windows slide by one minute; SampleCount
  counts track-minutes (see `pane_metrics`); CloudWatch has no hysteresis, so ``low_clear`` and
  ``clear_m`` do not apply (OK as soon as fewer than raise_m of raise_n periods breach).
* sentiment_drop, per site: CloudWatch anomaly detection on the site's NetScore average (its model
  learns hourly, daily and weekly seasonality, the counterpart of the engine's hour-of-week
  baseline), band width ``drop_sigmas`` standard deviations, ALARM when ``raise_m`` of ``raise_n``
  periods fall below the band. ``drop_min`` and ``baseline_min_samples`` have no counterpart (the
  detector trains on up to two weeks of history before its band is used).
* camera_silent, per camera: Heartbeat SampleCount < 1 in each of ``silent_minutes`` one-minute
  periods, missing data breaching.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stream.alarms import AlarmConfig
from stream.aws.cloudwatch import NAMESPACE
from stream.engine import EngineConfig
from stream.ingest import IngestConfig
from stream.sinks.aws import CAMERA, DEAD_LETTERS, HEARTBEAT, NET_SCORE, SITE

ITERATOR_AGE_ALARM_MS = 10 * 60_000

Inventory = Mapping[str, Sequence[str]]  # site -> cameras


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (alphanumeric) that stays unique for ids differing only in
    punctuation: the readable part plus a short hash of the exact parts."""
    readable = "".join(p.title() for p in re.split(r"[^A-Za-z0-9]+", "-".join(parts)) if p)
    digest = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    return f"{readable[:200]}{digest}"


def _alarm_actions() -> dict[str, Any]:
    actions = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    return {"AlarmActions": actions, "OKActions": actions}


def _metric(query_id: str, name: str, dims: Sequence[tuple[str, str]], stat: str, period: int) -> dict[str, Any]:
    return {"Id": query_id, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name,
                   "Dimensions": [{"Name": n, "Value": v} for n, v in dims]},
        "Period": period, "Stat": stat}}


def _name(rule: str, *parts: str) -> dict[str, Any]:
    return {"Fn::Sub": "${AWS::StackName}-" + "-".join((rule, *parts))}


def low_sentiment_alarm(config: AlarmConfig, site: str, camera: str | None) -> dict[str, Any]:
    dims = [(SITE, site)] + ([(CAMERA, camera)] if camera is not None else [])
    period = config.window_minutes * 60
    where = f"site {site}" + (f" camera {camera}" if camera else "")
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": _name("low-sentiment", site, *([camera] if camera else [])),
        "AlarmDescription": (f"low_sentiment {where}: net score < {config.low_raise:g} in {config.raise_m} of "
                             f"{config.raise_n} {config.window_minutes}-minute periods with at least "
                             f"{config.min_tracks} track votes"),
        "Metrics": [
            _metric("net", NET_SCORE, dims, "Average", period),
            _metric("votes", NET_SCORE, dims, "SampleCount", period),
            {"Id": "gated", "ReturnData": True, "Label": "net score (enough tracks)",
             "Expression": f"IF(votes >= {config.min_tracks}, net, 1)"},
        ],
        "ComparisonOperator": "LessThanThreshold",
        "Threshold": config.low_raise,
        "EvaluationPeriods": config.raise_n,
        "DatapointsToAlarm": config.raise_m,
        "TreatMissingData": "notBreaching",
        **_alarm_actions(),
    }}


def sentiment_drop_alarm(config: AlarmConfig, site: str) -> dict[str, Any]:
    period = config.window_minutes * 60
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": _name("sentiment-drop", site),
        "AlarmDescription": (f"sentiment_drop site {site}: net score below {config.drop_sigmas:g} standard "
                             f"deviations under its learned baseline in {config.raise_m} of {config.raise_n} "
                             f"{config.window_minutes}-minute periods"),
        "Metrics": [
            {**_metric("net", NET_SCORE, [(SITE, site)], "Average", period), "ReturnData": True},
            {"Id": "band", "ReturnData": True, "Label": "baseline",
             "Expression": f"ANOMALY_DETECTION_BAND(net, {config.drop_sigmas:g})"},
        ],
        "ThresholdMetricId": "band",
        "ComparisonOperator": "LessThanLowerThreshold",
        "EvaluationPeriods": config.raise_n,
        "DatapointsToAlarm": config.raise_m,
        "TreatMissingData": "notBreaching",
        **_alarm_actions(),
    }}


def camera_silent_alarm(config: AlarmConfig, site: str, camera: str) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": _name("camera-silent", site, camera),
        "AlarmDescription": f"camera_silent site {site} camera {camera}: no heartbeat for "
                            f"{config.silent_minutes} minutes",
        "Namespace": NAMESPACE, "MetricName": HEARTBEAT,
        "Dimensions": [{"Name": SITE, "Value": site}, {"Name": CAMERA, "Value": camera}],
        "Statistic": "SampleCount", "Period": 60,
        "ComparisonOperator": "LessThanThreshold", "Threshold": 1,
        "EvaluationPeriods": config.silent_minutes, "DatapointsToAlarm": config.silent_minutes,
        "TreatMissingData": "breaching",
        **_alarm_actions(),
    }}


def _policy(name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


def build_template(inventory: Inventory, alarms: AlarmConfig | None = None, engine: EngineConfig | None = None,
                   ingest: IngestConfig | None = None) -> dict[str, Any]:
    alarms = alarms or AlarmConfig()
    engine = engine or EngineConfig()
    del ingest  # the ingest limits travel with the host now (HostConfig), not in the template
    if alarms.window_minutes not in engine.window_minutes:
        raise ValueError(f"alarm window {alarms.window_minutes} min is not one of the engine's windows "
                         f"{engine.window_minutes}")
    if not -1 <= alarms.low_raise < 1:
        raise ValueError(f"low_raise {alarms.low_raise} must be in [-1, 1): 1 marks periods with too few tracks")
    stream_arn = {"Fn::GetAtt": ["EventStream", "Arn"]}
    resources: dict[str, Any] = {
        "EventStream": {"Type": "AWS::Kinesis::Stream", "Properties": {
            "ShardCount": {"Ref": "ShardCount"}, "RetentionPeriodHours": 24,
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}}},
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": True}},
        "ConsumerRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "Policies": [
                _policy("read-stream", [{"Effect": "Allow", "Action": [
                    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                    "kinesis:GetShardIterator", "kinesis:ListShards"], "Resource": stream_arn}]),
                _policy("dead-letters", [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                          "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}]),
                _policy("metrics", [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                                     "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}}]),
            ]}},
        "DeadLettersAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": _name("dead-letters"),
            "AlarmDescription": "records dead-lettered (schema-invalid, oversized, out of time range)",
            "Namespace": NAMESPACE, "MetricName": DEAD_LETTERS, "Statistic": "Sum", "Period": 300,
            "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0, "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching", **_alarm_actions()}},
        "ConsumerLagAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": _name("consumer-lag"),
            "AlarmDescription": "the consumer is falling behind the stream (GetRecords iterator age)",
            "Namespace": "AWS/Kinesis", "MetricName": "GetRecords.IteratorAgeMilliseconds", "Statistic": "Maximum",
            "Period": 60, "Dimensions": [{"Name": "StreamName", "Value": {"Ref": "EventStream"}}],
            "ComparisonOperator": "GreaterThanThreshold", "Threshold": ITERATOR_AGE_ALARM_MS,
            "EvaluationPeriods": 5, "TreatMissingData": "notBreaching", **_alarm_actions()}},
    }
    for site in sorted(inventory):
        resources[logical_id("LowSentiment", site)] = low_sentiment_alarm(alarms, site, None)
        resources[logical_id("SentimentDropDetector", site)] = {
            "Type": "AWS::CloudWatch::AnomalyDetector", "Properties": {"SingleMetricAnomalyDetector": {
                "Namespace": NAMESPACE, "MetricName": NET_SCORE, "Stat": "Average",
                "Dimensions": [{"Name": SITE, "Value": site}]}}}
        resources[logical_id("SentimentDrop", site)] = sentiment_drop_alarm(alarms, site)
        for camera in sorted(inventory[site]):
            if alarms.cameras:
                resources[logical_id("LowSentiment", site, camera)] = low_sentiment_alarm(alarms, site, camera)
            resources[logical_id("CameraSilent", site, camera)] = camera_silent_alarm(alarms, site, camera)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "moodlens AWS mode: Kinesis, dead letters, the stream host's task role and CloudWatch "
                       "alarms on its metrics. Generated by stream/aws/infra.py: do not edit by hand.",
        "Parameters": {
            "ShardCount": {"Type": "Number", "Default": 1, "MinValue": 1,
                           "Description": "Kinesis shards (partition key = site)."},
            "AlarmTopicArn": {"Type": "String", "Default": "",
                              "Description": "SNS topic for alarm notifications; empty for none."},
        },
        "Conditions": {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}},
        "Resources": resources,
        "Outputs": {
            "StreamName": {"Value": {"Ref": "EventStream"}},
            "StreamArn": {"Value": stream_arn},
            "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}},
            "ConsumerRoleArn": {"Value": {"Fn::GetAtt": ["ConsumerRole", "Arn"]}},
        },
    }


def render(template: Mapping[str, Any]) -> str:
    return json.dumps(template, indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--inventory", type=Path, required=True, help="JSON: {site: [camera, ...]}")
    parser.add_argument("--out", type=Path, help="template path (stdout if omitted)")
    args = parser.parse_args(argv)
    text = render(build_template(json.loads(args.inventory.read_text())))
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
