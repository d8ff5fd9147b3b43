"""What runs: the ECS cluster, the consumer service (one Fargate task; more only in KCL mode, scaled
on the stream's iterator age), the hourly compaction, the hourly model drift and the weekly report
(EventBridge Scheduler starts their tasks), and the least-privilege roles of each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from deploy import container as c
from deploy.stack.cfn import (
    Json,
    allow,
    arn,
    att,
    if_,
    named,
    ref,
    service_role,
    skip_checkov,
    sub,
)
from deploy.stack.ingest import STREAM
from deploy.stack.storage import log_group, object_arns
from schemas.privacy import DEFAULT_MIN_TRACKS
from stream.sinks.aws import ENV_SITE_NAMES

CONSUMER_CPU, CONSUMER_MEMORY = "512", "1024"   # one task covers the fleet: see the README's cost section
BATCH_CPU, BATCH_MEMORY = "1024", "4096"        # compaction holds an hour of raw outputs in Arrow
# Compaction at 10 past: the Firehose buffers (5 minutes) of the hour before have landed in raw/. Drift
# at 40 past, after it: each site's local days ended at least batch.drift_due.SETTLE_MS ago, so every
# zone's day (ending on the hour, the half or the three quarters) is judged 40 to 85 minutes after its end.
COMPACTION_SCHEDULE = "cron(10 * * * ? *)"
DRIFT_SCHEDULE = "cron(40 * * * ? *)"
REPORT_SCHEDULE = "cron(0 6 ? * MON *)"         # Mondays 06:00 UTC, before the week's first opening
SCALE_OUT_LAG_MS, SCALE_IN_LAG_MS = 60_000, 5_000


def _kms(*services: str) -> Json:
    return allow(["kms:Decrypt", "kms:GenerateDataKey"], att("DataKey"),
                 {"StringEquals": {"kms:ViaService": [sub(f"{s}.${{AWS::Region}}.amazonaws.com") for s in services]}})


def _network() -> Json:
    return {"AwsvpcConfiguration": {"Subnets": ref("SubnetIds"), "SecurityGroups": [ref("TaskSecurityGroup")],
                                    "AssignPublicIp": ref("AssignPublicIp")}}


def _kcl_tables() -> Json:
    # The KCL names its lease, coordinator-state and worker-metrics tables after its application.
    return arn("dynamodb", "table/${AWS::StackName}-kcl*")


def roles() -> dict[str, Json]:
    tasks = "ecs-tasks.amazonaws.com"
    execution = service_role(tasks, {"pull-and-log": [
        allow("ecr:GetAuthorizationToken", "*"),  # has no resource type
        allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], arn("ecr", "repository/*")),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"],
              [{"Fn::Join": ["", [att(g), ":log-stream:*"]]} for g in ("ConsumerLogGroup", "BatchLogGroup")]),
    ]})
    consumer = service_role(tasks, {
        "read-stream": [allow(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                               "kinesis:GetShardIterator", "kinesis:ListShards"], att(STREAM))],
        "state": [allow(["s3:GetObject", "s3:PutObject"], object_arns("StateBucket", c.STATE_PREFIX)),
                  allow("s3:ListBucket", att("StateBucket"),
                        {"StringLike": {"s3:prefix": [c.STATE_PREFIX.rstrip("/"), c.STATE_PREFIX + "*"]}})],
        "outputs": [allow(["firehose:PutRecord", "firehose:PutRecordBatch"], att("OutputDelivery")),
                    allow("sns:Publish", ref("AlarmTopic")),
                    allow("events:PutEvents", arn("events", "event-bus/default")),
                    allow("sqs:SendMessage", att("DeadLetterQueue"))],
        "metrics": [allow("cloudwatch:PutMetricData", "*",  # has no resource type: scoped by namespace
                          {"StringEquals": {"cloudwatch:namespace": [c.METRIC_NAMESPACE, named("kcl")]}})],
        "kcl-leases": [allow(["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
                              "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                              "dynamodb:Scan", "dynamodb:Query"],
                             [_kcl_tables(), {"Fn::Join": ["", [_kcl_tables(), "/index/*"]]}])],
        "key": [_kms("kinesis", "s3", "firehose", "sns", "sqs")],
    })
    catalog = [arn("glue", "catalog"), arn("glue", f"database/{c.LAKE_DATABASE}"),
               arn("glue", f"table/{c.LAKE_DATABASE}/*")]
    lake, raw, reports = (object_arns("DataBucket", p) for p in (c.LAKE_PREFIX, c.RAW_PREFIX, c.REPORTS_PREFIX))
    compaction = service_role(tasks, {
        "lake-files": [allow("s3:ListBucket", att("DataBucket")), allow("s3:GetObject", [raw, lake]),
                       allow(["s3:PutObject", "s3:DeleteObject"], lake)],
        # pyiceberg's Glue catalog tries CreateDatabase on every open (AlreadyExists is its "fine").
        "lake-catalog": [allow(["glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:GetTables",
                                "glue:CreateTable", "glue:UpdateTable"], catalog)],
        "key": [_kms("s3")],
    })
    report = service_role(tasks, {  # reads the lake, writes reports/ only
        "lake-files": [allow("s3:ListBucket", att("DataBucket")), allow("s3:GetObject", [lake, reports]),
                       allow("s3:PutObject", reports)],
        "lake-catalog": [allow(["glue:GetDatabase", "glue:GetTable", "glue:GetTables"], catalog)],
        "key": [_kms("s3")],
    })
    drift = service_role(tasks, {  # reads the lake, puts the drift metrics, keeps its record of judged days
        "lake-files": [allow("s3:ListBucket", att("DataBucket")), allow("s3:GetObject", lake)],
        "judged-days": [allow(["s3:GetObject", "s3:PutObject"], object_arns("DataBucket", c.DRIFT_PREFIX))],
        "lake-catalog": [allow(["glue:GetDatabase", "glue:GetTable", "glue:GetTables"], catalog)],
        "metrics": [allow("cloudwatch:PutMetricData", "*",  # has no resource type: scoped by namespace
                          {"StringEquals": {"cloudwatch:namespace": c.METRIC_NAMESPACE}})],
        "key": [_kms("s3")],
    })
    return {"TaskExecutionRole": execution, "ConsumerTaskRole": consumer, "CompactionTaskRole": compaction,
            "ReportTaskRole": report, "DriftTaskRole": drift}


def _environment(more: Mapping[str, str] | None = None) -> list[Json]:
    values: dict[str, Any] = {**(more or {}),
        c.ENV_FIREHOSE_STREAM: ref("OutputDelivery"),
        c.ENV_ALARM_TOPIC_ARN: ref("AlarmTopic"),
        c.ENV_EVENT_BUS: "default",
        c.ENV_DEAD_LETTER_QUEUE_URL: ref("DeadLetterQueue"),
        c.ENV_METRIC_NAMESPACE: c.METRIC_NAMESPACE,
        c.ENV_KCL_APPLICATION: named("kcl"),
        c.ENV_GLUE_DATABASE: c.LAKE_DATABASE,
        c.ENV_ATHENA_WORKGROUP: ref("AnalystWorkGroup"),
        "AWS_REGION": ref("AWS::Region"),
    }
    return [{"Name": k, "Value": v} for k, v in sorted(values.items())]


def _command(words: list[str]) -> list[Json | str]:
    return [sub(w) if "${" in w else w for w in words]


def _consumer_command(host: list[str]) -> Json:
    return if_("ScaleOut", _command(c.kcl_command(host)), _command(c.consumer_command(host)))


def task_definition(name: str, role: str, log: str, cpu: str, memory: str, command: list[Any] | Json,
                    environment: Mapping[str, str] | None = None) -> Json:
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": named(name), "Cpu": cpu, "Memory": memory, "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "RuntimePlatform": {"OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"},
        "ExecutionRoleArn": att("TaskExecutionRole"), "TaskRoleArn": att(role),
        "Volumes": [{"Name": "tmp"}],  # the only writable path: the root file system is read-only
        "ContainerDefinitions": [{
            "Name": name, "Image": ref("ImageUri"), "Essential": True,
            "Command": command if isinstance(command, dict) else _command(command),
            "ReadonlyRootFilesystem": True, "Privileged": False,
            # the path inside the container of its own task volume, not a shared host /tmp
            "MountPoints": [{"SourceVolume": "tmp", "ContainerPath": "/tmp", "ReadOnly": False}],  # nosec B108
            "Environment": _environment(environment),
            "StopTimeout": 60,  # time to commit the last checkpoint on SIGTERM
            "LogConfiguration": {"LogDriver": "awslogs", "Options": {
                "awslogs-group": ref(log), "awslogs-region": ref("AWS::Region"), "awslogs-stream-prefix": name}}}]}}


def consumer(host: list[str], site_names: Mapping[str, str] | None = None) -> dict[str, Json]:
    """`host`: the stream host's window and alarm flags (deploy.container.host_arguments); `site_names`: the
    stack's sites by name (its --sites), for the alarms' SNS texts: in the task's environment, which the KCL
    workers inherit, as a name may hold the spaces their command line is split at."""
    environment = {ENV_SITE_NAMES: json.dumps(dict(site_names), ensure_ascii=False, sort_keys=True)} \
        if site_names else None
    cluster = skip_checkov({"Type": "AWS::ECS::Cluster", "Properties": {
        "ClusterName": named("cluster"), "ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}]}},
        CKV_AWS_65="Container Insights costs more than the one-service stack it would watch; the consumer's "
                   "lag and the tasks' CPU/memory are in the basic AWS/Kinesis and AWS/ECS metrics")
    # AssignPublicIp defaults to ENABLED: a public IP on a task with no inbound rule costs less than the NAT
    # gateway private subnets would need; set DISABLED with private subnets (and a NAT or VPC endpoints).
    service = {"Type": "AWS::ECS::Service", "Properties": {
        "ServiceName": named("consumer"), "Cluster": ref("Cluster"), "TaskDefinition": ref("ConsumerTask"),
        "DesiredCount": 1, "LaunchType": "FARGATE", "PlatformVersion": "LATEST",
        # Single mode: never two consumers at once (S3 conditional writes would fence the second anyway).
        "DeploymentConfiguration": {
            "MinimumHealthyPercent": 0, "MaximumPercent": if_("ScaleOut", 200, 100),
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}},
        "NetworkConfiguration": _network(), "PropagateTags": "SERVICE", "EnableECSManagedTags": True}}
    return {
        "Cluster": cluster,
        "TaskSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "moodlens tasks: no inbound; HTTPS out to AWS APIs", "VpcId": ref("VpcId"),
            "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
                                     "Description": "AWS service endpoints"}]}},
        "ConsumerLogGroup": log_group("consumer"),
        "BatchLogGroup": log_group("batch"),
        "ConsumerTask": task_definition("consumer", "ConsumerTaskRole", "ConsumerLogGroup", CONSUMER_CPU,
                                        CONSUMER_MEMORY, _consumer_command(host), environment),
        "ConsumerService": service,
        **autoscaling(),
    }


def _lag_alarm(name: str, threshold: int, minutes: int, above: bool, policy: str) -> Json:
    return {"Type": "AWS::CloudWatch::Alarm", "Condition": "ScaleOut", "Properties": {
        "AlarmName": named(name), "AlarmDescription": f"consumer lag {'above' if above else 'below'} {threshold} ms: "
                                                      f"{'add' if above else 'remove'} a consumer task",
        "Namespace": "AWS/Kinesis", "MetricName": "GetRecords.IteratorAgeMilliseconds",
        "Dimensions": [{"Name": "StreamName", "Value": ref(STREAM)}], "Statistic": "Maximum", "Period": 60,
        "EvaluationPeriods": minutes, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold" if above else "LessThanThreshold",
        "TreatMissingData": "notBreaching" if above else "breaching", "AlarmActions": [ref(policy)]}}


def _step(change: int, lower: bool) -> Json:
    bound = {"MetricIntervalUpperBound": 0} if lower else {"MetricIntervalLowerBound": 0}
    return {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Condition": "ScaleOut", "Properties": {
        "PolicyName": named("scale-in" if lower else "scale-out"), "PolicyType": "StepScaling",
        "ScalingTargetId": ref("ConsumerScaling"),
        "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                                           "MetricAggregationType": "Maximum",
                                           "StepAdjustments": [{**bound, "ScalingAdjustment": change}]}}}


def autoscaling() -> dict[str, Json]:
    """KCL mode only: tasks follow the stream's iterator age (the oldest unread record), one task more
    after 3 minutes behind by a minute, one fewer after 15 minutes under 5 seconds. In single mode
    the service stays at one task (a second one would only be fenced out)."""
    return {
        "ConsumerScaling": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Condition": "ScaleOut",
                            "Properties": {
            "ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
            "ResourceId": sub("service/${Cluster}/${ConsumerService.Name}"),
            "MinCapacity": 1, "MaxCapacity": ref("ConsumerMaxTasks")}},
        "ConsumerScaleOut": _step(1, lower=False),
        "ConsumerScaleIn": _step(-1, lower=True),
        "ConsumerLagHigh": _lag_alarm("consumer-scale-out", SCALE_OUT_LAG_MS, 3, True, "ConsumerScaleOut"),
        "ConsumerLagLow": _lag_alarm("consumer-scale-in", SCALE_IN_LAG_MS, 15, False, "ConsumerScaleIn"),
    }


def schedules(sites_json: str | None = None, min_tracks: int = DEFAULT_MIN_TRACKS) -> dict[str, Json]:
    """Compaction and model drift hourly, the report weekly: EventBridge Scheduler starts each one's own task
    definition (its command and role, no overrides); failed starts are retried, then land in the
    schedule-errors queue."""
    tasks = {"CompactionTask": "CompactionTaskRole", "ReportTask": "ReportTaskRole", "DriftTask": "DriftTaskRole"}
    scheduler_role = service_role("scheduler.amazonaws.com", {"run-batch": [
        allow("ecs:RunTask", [ref(t) for t in tasks], {"ArnEquals": {"ecs:cluster": att("Cluster")}}),
        allow("iam:PassRole", [att("TaskExecutionRole"), *(att(r) for r in tasks.values())],
              {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
        allow("sqs:SendMessage", att("ScheduleErrorQueue")), _kms("sqs"),
        allow("kms:Decrypt", att("DataKey"))]})  # the schedule is encrypted with the stack's key

    def schedule(name: str, expression: str, task: str) -> Json:
        return {"Type": "AWS::Scheduler::Schedule", "Properties": {
            "Name": named(name), "ScheduleExpression": expression, "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED", "KmsKeyArn": att("DataKey"),
            "Target": {
                "Arn": att("Cluster"), "RoleArn": att("SchedulerRole"),
                "EcsParameters": {"TaskDefinitionArn": ref(task), "LaunchType": "FARGATE",
                                  "PlatformVersion": "LATEST", "TaskCount": 1, "NetworkConfiguration": _network()},
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": att("ScheduleErrorQueue")}}}}

    return {
        "CompactionTask": task_definition("compaction", "CompactionTaskRole", "BatchLogGroup", BATCH_CPU,
                                          BATCH_MEMORY, _command(c.compaction_command(sites_json))),
        "ReportTask": task_definition("report", "ReportTaskRole", "BatchLogGroup", BATCH_CPU, BATCH_MEMORY,
                                      _command(c.report_command(min_tracks))),
        "SchedulerRole": scheduler_role,
        "CompactionSchedule": schedule("compaction", COMPACTION_SCHEDULE, "CompactionTask"),
        "ReportSchedule": schedule("report", REPORT_SCHEDULE, "ReportTask"),
        "DriftTask": task_definition("drift", "DriftTaskRole", "BatchLogGroup", BATCH_CPU, BATCH_MEMORY,
                                     _command(c.drift_command())),
        "DriftSchedule": schedule("drift", DRIFT_SCHEDULE, "DriftTask"),
    }

