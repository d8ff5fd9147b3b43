"""What operations see: the SNS topic alarms go to (e-mail subscription from a parameter), the
CloudWatch alarms (net score per site from the host's window metrics, consumer lag, dead letters),
and one dashboard.

Per-site alarms need the site's name in the template (CloudFormation has no loop over a list
parameter without a transform), so they come from `inventory.json`; a site that is not listed still
gets the engine's own alarms through SNS and EventBridge, and appears on the dashboard (a SEARCH
expression), without a redeploy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from deploy import container as c
from deploy.stack.cfn import Json, att, named, ref, sub
from deploy.stack.ingest import STREAM
from deploy.stack.logical import logical_id
from deploy.stack.storage import KEY_ARN, QUEUES
from stream.alarms import AlarmConfig

LAG_ALARM_MS = 10 * 60_000


def _actions() -> Json:
    return {"AlarmActions": [ref("AlarmTopic")], "OKActions": [ref("AlarmTopic")]}


def topic() -> dict[str, Json]:
    return {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": named("alarms"), "KmsMasterKeyId": KEY_ARN, "DisplayName": "moodlens alarms"}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
            "TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")}},
    }


def _metric(query_id: str, name: str, site: str, stat: str, period: int) -> Json:
    return {"Id": query_id, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": c.METRIC_NAMESPACE, "MetricName": name,
                   "Dimensions": [{"Name": c.SITE_DIMENSION, "Value": site}]},
        "Period": period, "Stat": stat}}


def net_score_alarm(config: AlarmConfig, site: str) -> Json:
    """The engine's low_sentiment rule as far as CloudWatch can follow it: the site's window net score
    below `low_raise` in `raise_m` of `raise_n` periods, counted only with at least `min_tracks`
    tracks (otherwise a non-breaching 1). No hysteresis: the engine's own alarm has it. The sequential
    sentiment_drop rule (a CUSUM over customers against a learnt baseline) has no CloudWatch form:
    the consumer raises it, and SNS and EventBridge only relay it."""
    period = config.window_minutes * 60
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": named(f"net-score-{site}"),
        "AlarmDescription": (f"site {site}: net score < {config.low_raise:g} in {config.raise_m} of {config.raise_n} "
                             f"{config.window_minutes}-minute periods with at least {config.min_tracks} tracks"),
        "Metrics": [
            _metric("net", c.NET_SCORE, site, "Average", period),
            _metric("tracks", c.TRACKS, site, "Maximum", period),
            {"Id": "gated", "ReturnData": True, "Label": "net score (enough tracks)",
             "Expression": f"IF(tracks >= {config.min_tracks}, net, 1)"}],
        "ComparisonOperator": "LessThanThreshold", "Threshold": config.low_raise,
        "EvaluationPeriods": config.raise_n, "DatapointsToAlarm": config.raise_m,
        "TreatMissingData": "notBreaching", **_actions()}}


def operations_alarms() -> dict[str, Json]:
    alarms: dict[str, Json] = {"ConsumerLagAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": named("consumer-lag"),
        "AlarmDescription": f"the consumer is more than {LAG_ALARM_MS // 60_000} minutes behind the stream",
        "Namespace": "AWS/Kinesis", "MetricName": "GetRecords.IteratorAgeMilliseconds",
        "Dimensions": [{"Name": "StreamName", "Value": ref(STREAM)}], "Statistic": "Maximum", "Period": 60,
        "EvaluationPeriods": 5, "Threshold": LAG_ALARM_MS, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", **_actions()}}}
    alarms["ModelDriftAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": named("model-drift"),
        "AlarmDescription": "a camera's top-class mix moved away from the model's baseline (PSI above 0.25): "
                            "check the camera (light, angle) or the model (`moodlens model drift`)",
        "Namespace": c.METRIC_NAMESPACE, "MetricName": c.MODEL_DRIFT_MAX, "Statistic": "Maximum",
        "Period": 3600, "EvaluationPeriods": 1, "Threshold": 0.25, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", **_actions()}}
    for queue, purpose in QUEUES.items():
        alarms[f"{queue}Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": named(purpose), "AlarmDescription": f"messages waiting in the {purpose} queue",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": att(queue, "QueueName")}], "Statistic": "Maximum",
            "Period": 300, "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching", **_actions()}}
    return alarms


def site_alarms(config: AlarmConfig, sites: Iterable[str]) -> dict[str, Json]:
    return {logical_id("net-score", site): net_score_alarm(config, site) for site in sorted(sites)}


def _widget(title: str, metrics: list[Any], y: int, x: int = 0, stat: str = "Sum", period: int = 300) -> Json:
    return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": {
        "title": title, "region": "${AWS::Region}", "stat": stat, "period": period, "view": "timeSeries",
        "metrics": metrics}}


def dashboard() -> dict[str, Json]:
    search = "SEARCH('{%s,%s} MetricName=\"%s\"', '%s', 300)"
    ns, site = c.METRIC_NAMESPACE, c.SITE_DIMENSION
    widgets = [
        _widget("Net score per site (window average)",
                [[{"expression": search % (ns, site, c.NET_SCORE, "Average"), "id": "net"}]], 0, stat="Average"),
        _widget("Tracks per site", [[{"expression": search % (ns, site, c.TRACKS, "Maximum"), "id": "tracks"}]],
                0, 12, stat="Maximum"),
        _widget("Events in (Kinesis)", [["AWS/Kinesis", "IncomingRecords", "StreamName", "${EventStream}"]], 6),
        _widget("Consumer lag (ms)", [["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName",
                                       "${EventStream}"]], 6, 12, stat="Maximum", period=60),
        _widget("Dead letters waiting", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                                          f"${{{q}.QueueName}}"] for q in QUEUES], 12, stat="Maximum"),
        _widget("Outputs delivered to raw/", [["AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName",
                                               "${OutputDelivery}"]], 12, 12),
        _widget("Consumer CPU and memory (%)", [
            ["AWS/ECS", "CPUUtilization", "ClusterName", "${Cluster}", "ServiceName", "${ConsumerService.Name}"],
            ["AWS/ECS", "MemoryUtilization", "ClusterName", "${Cluster}", "ServiceName", "${ConsumerService.Name}"]],
            18, stat="Average"),
        _widget("IoT rule", [["AWS/IoT", "Success", "RuleName", "${IngestRule}", "ActionType", "Kinesis"],
                             ["AWS/IoT", "Failure", "RuleName", "${IngestRule}", "ActionType", "Kinesis"]], 18, 12),
    ]
    body = json.dumps({"widgets": widgets}, separators=(",", ":"))
    assert not re.search(r"\$\{(?!AWS::|[A-Za-z]+(\.[A-Za-z]+)?\})", body), "only template names may be substituted"
    return {"Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": named("operations"), "DashboardBody": sub(body)}}}


def dashboard_url() -> Json:
    return sub("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
               "#dashboards:name=${Dashboard}")

