"""Generates the CloudFormation template of the AWS mode from the engine's own configuration, so the
CloudWatch alarms and the Lambda's ingest limits cannot drift from the embedded engine's rules.

    python -m stream.aws.infra --inventory infra/cloudformation/inventory.json \\
        --out infra/cloudformation/moodlens-stream.json

Resources: the Kinesis stream (partition key = site), the SQS dead-letter queue (schema-invalid
records, with payload and reasons), an SQS queue for batches whose retries ran out (the event source
mapping's on-failure destination: shard and sequence range only), the Lambda function and its event
source mapping (ReportBatchItemFailures, BisectBatchOnFunctionError, MaximumRetryAttempts), a log
group, the least-privilege role, and the alarms.

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
from stream.aws.pane_metrics import CAMERA, DEAD_LETTERS, HEARTBEAT, NET_SCORE, SITE
from stream.engine import EngineConfig
from stream.ingest import IngestConfig

HANDLER = "stream.aws.lambda_handler.handler"
RUNTIME = "python3.11"
ESM = {
    "BatchSize": 500,
    "MaximumBatchingWindowInSeconds": 5,
    "StartingPosition": "TRIM_HORIZON",
    "ParallelizationFactor": 1,  # one invocation per shard at a time: records stay in shard order
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 5,
    "MaximumRecordAgeInSeconds": 24 * 3600,
}
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
    ingest = ingest or IngestConfig()
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
        "RetriesExhaustedQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": True}},
        "ConsumerLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}-consumer"}, "RetentionInDays": 30}},
        "ConsumerRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "Policies": [
                _policy("read-stream", [{"Effect": "Allow", "Action": [
                    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                    "kinesis:GetShardIterator", "kinesis:ListShards"], "Resource": stream_arn}]),
                _policy("dead-letters", [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [
                    {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                    {"Fn::GetAtt": ["RetriesExhaustedQueue", "Arn"]}]}]),
                _policy("metrics", [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                                     "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}}]),
                _policy("logs", [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                  "Resource": {"Fn::GetAtt": ["ConsumerLogGroup", "Arn"]}}]),
            ]}},
        "ConsumerFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": {"Fn::Sub": "${AWS::StackName}-consumer"},
            "Runtime": RUNTIME, "Handler": HANDLER, "Architectures": ["arm64"],
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
            "Role": {"Fn::GetAtt": ["ConsumerRole", "Arn"]},
            "MemorySize": 512, "Timeout": 60,
            "LoggingConfig": {"LogGroup": {"Ref": "ConsumerLogGroup"}},
            "Environment": {"Variables": {
                "DEAD_LETTER_QUEUE_URL": {"Ref": "DeadLetterQueue"},
                "METRIC_NAMESPACE": NAMESPACE,
                "MAX_EVENT_BYTES": str(ingest.max_bytes),
                "MAX_FUTURE_MS": str(ingest.max_future_ms),
                "MAX_PAST_MS": str(ingest.max_past_ms),
                "POWERTOOLS_SERVICE_NAME": "moodlens-stream"}}}},
        "ConsumerMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": stream_arn, "FunctionName": {"Ref": "ConsumerFunction"}, **ESM,
            "DestinationConfig": {"OnFailure": {
                "Destination": {"Fn::GetAtt": ["RetriesExhaustedQueue", "Arn"]}}}}},
        "DeadLettersAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": _name("dead-letters"),
            "AlarmDescription": "records dead-lettered (schema-invalid, oversized, out of time range)",
            "Namespace": NAMESPACE, "MetricName": DEAD_LETTERS, "Statistic": "Sum", "Period": 300,
            "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0, "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching", **_alarm_actions()}},
        "ConsumerLagAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": _name("consumer-lag"),
            "AlarmDescription": "the consumer is falling behind the stream (Lambda IteratorAge)",
            "Namespace": "AWS/Lambda", "MetricName": "IteratorAge", "Statistic": "Maximum", "Period": 60,
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "ConsumerFunction"}}],
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
        "Description": "moodlens AWS mode: Kinesis -> Lambda (event-time panes) -> CloudWatch statistic sets "
                       "and alarms; SQS dead letters. Generated by stream/aws/infra.py: do not edit by hand.",
        "Parameters": {
            "ShardCount": {"Type": "Number", "Default": 1, "MinValue": 1,
                           "Description": "Kinesis shards (partition key = site)."},
            "CodeBucket": {"Type": "String", "Description": "S3 bucket of the Lambda package."},
            "CodeKey": {"Type": "String", "Description": "S3 key of the Lambda package (moodlens + powertools)."},
            "AlarmTopicArn": {"Type": "String", "Default": "",
                              "Description": "SNS topic for alarm notifications; empty for none."},
        },
        "Conditions": {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}},
        "Resources": resources,
        "Outputs": {
            "StreamName": {"Value": {"Ref": "EventStream"}},
            "StreamArn": {"Value": stream_arn},
            "DeadLetterQueueUrl": {"Value": {"Ref": "DeadLetterQueue"}},
            "RetriesExhaustedQueueUrl": {"Value": {"Ref": "RetriesExhaustedQueue"}},
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
