"""The generated CloudFormation template: committed copy up to date, valid for cfn-lint, and the
properties issue 10 asks of it (encryption, least privilege, routing) checked on the template itself.

moto's CloudFormation skips most of these resource types (alarms, IoT rules, Firehose, Scheduler), so
nothing here deploys them; tests/deploy/test_deployer.py deploys what moto can.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from deploy import container
from deploy.stack.logical import logical_id
from deploy.stack.template import build_template, render
from edge.publish.iot import topic_for
from edge.publish.ports import OutboundRecord
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra" / "cloudformation"
TEMPLATE = INFRA / "moodlens.json"
INVENTORY: dict[str, list[str]] = json.loads((INFRA / "inventory.json").read_text())
REGENERATE = ("python -m deploy.stack --inventory infra/cloudformation/inventory.json "
              "--out infra/cloudformation/moodlens.json")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE.read_text()))


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, role in of_type(template, "AWS::IAM::Role").items():
        for policy in role["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                yield f"{name}/{policy['PolicyName']}", statement


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_committed_template_is_what_the_generator_makes() -> None:
    assert TEMPLATE.read_text() == render(build_template(INVENTORY)), f"stale template; regenerate: {REGENERATE}"


def test_cfn_lint_finds_nothing() -> None:
    matches = lint(TEMPLATE.read_text(), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_no_wildcard_actions_and_star_resources_only_where_aws_has_no_resource_type(template: dict[str, Any]) -> None:
    seen = set()
    for where, statement in statements(template):
        assert statement["Effect"] == "Allow", where
        for action in actions(statement):
            assert "*" not in action, f"{where}: wildcard action {action}"
            seen.add(action)
        if statement["Resource"] == "*":
            assert actions(statement) in (["ecr:GetAuthorizationToken"], ["cloudwatch:PutMetricData"]), where
            if actions(statement) == ["cloudwatch:PutMetricData"]:
                namespaces = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
                assert container.METRIC_NAMESPACE in namespaces
    # Nobody but the IoT rule writes to the stream; nobody reads the dead letters back.
    writers = {w for w, s in statements(template) if "kinesis:PutRecord" in actions(s)}
    assert writers == {"IngestRuleRole/put-events"}
    assert not any(a.startswith(("sqs:Receive", "sqs:Delete", "iam:Create", "s3:DeleteBucket")) for a in seen)


def test_every_trust_policy_names_one_service_of_this_account(template: dict[str, Any]) -> None:
    for name, role in of_type(template, "AWS::IAM::Role").items():
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert set(trust["Principal"]) == {"Service"}, name
        assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}, name


def test_buckets_are_private_encrypted_versioned_and_tls_only(template: dict[str, Any]) -> None:
    buckets = of_type(template, "AWS::S3::Bucket")
    policies = {p["Bucket"]["Ref"]: p["PolicyDocument"]["Statement"]
                for p in of_type(template, "AWS::S3::BucketPolicy").values()}
    assert set(buckets) == {"AccessLogBucket", "DataBucket", "StateBucket", "AthenaResultsBucket"}
    for name, bucket in buckets.items():
        assert all(bucket["PublicAccessBlockConfiguration"].values()), name
        (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        expected = "AES256" if name == "AccessLogBucket" else "aws:kms"  # log delivery takes SSE-S3 only
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == expected, name
        assert bucket["VersioningConfiguration"]["Status"] == "Enabled", name
        deny = [s for s in policies[name] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, name
        if name != "AccessLogBucket":
            assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    raw_rules = [r for r in buckets["DataBucket"]["LifecycleConfiguration"]["Rules"]
                 if r.get("Prefix") == container.RAW_PREFIX]
    assert raw_rules and raw_rules[0]["ExpirationInDays"] == {"Ref": "RawRetentionDays"}


def test_data_at_rest_uses_the_stack_key(template: dict[str, Any]) -> None:
    key = {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert all(q["KmsMasterKeyId"] == key for q in of_type(template, "AWS::SQS::Queue").values())
    (stream,) = of_type(template, "AWS::Kinesis::Stream").values()
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": key}
    assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    deliveries = of_type(template, "AWS::KinesisFirehose::DeliveryStream")
    outputs, archive = deliveries["OutputDelivery"], deliveries["EventArchive"]
    assert outputs["DeliveryStreamEncryptionConfigurationInput"]["KeyARN"] == key
    # the archive reads the (KMS-encrypted) stream: Firehose takes no SSE setting of its own then
    assert archive["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == {"Fn::GetAtt": ["EventStream", "Arn"]}
    for delivery in (outputs, archive):
        s3 = delivery["ExtendedS3DestinationConfiguration"]
        assert s3["Prefix"].startswith(container.RAW_PREFIX)
        assert s3["EncryptionConfiguration"] == {"KMSEncryptionConfig": {"AWSKMSKeyARN": key}}
    processors = archive["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]["Processors"]
    assert processors == [{"Type": "AppendDelimiterToRecord"}]  # one JSON record a line, as compaction reads
    (workgroup,) = of_type(template, "AWS::Athena::WorkGroup").values()
    config = workgroup["WorkGroupConfiguration"]
    assert config["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": key}
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaScanLimitBytes"}
    assert all(g["KmsKeyId"] == key for g in of_type(template, "AWS::Logs::LogGroup").values())
    assert of_type(template, "AWS::SNS::Topic")["AlarmTopic"]["KmsMasterKeyId"] == key


def mqtt_matches(topic_filter: str, topic: str) -> bool:
    wanted, levels = topic_filter.split("/"), topic.split("/")
    return len(wanted) == len(levels) and all(w in ("+", level) for w, level in zip(wanted, levels, strict=True))


@pytest.mark.parametrize(("site", "camera"), [("cafe-1", "cam-a"), ("cinema.2", None), ("a:b", "lobby_1")])
def test_iot_rule_takes_every_edge_topic_and_keys_kinesis_by_its_site(template: dict[str, Any], site: str,
                                                                       camera: str | None) -> None:
    rule = of_type(template, "AWS::IoT::TopicRule")["IngestRule"]["TopicRulePayload"]
    topic_filter = re.fullmatch(r"SELECT \* FROM '([^']+)'", rule["Sql"]).group(1)  # type: ignore[union-attr]
    topic = topic_for(OutboundRecord(seq=1, site_id=site, camera_id=camera, payload=b"{}"))
    assert mqtt_matches(topic_filter, topic)
    (action,) = rule["Actions"]
    level = int(re.fullmatch(r"\$\{topic\((\d)\)\}", action["Kinesis"]["PartitionKey"]).group(1))  # type: ignore[union-attr]
    assert topic.split("/")[level - 1] == site
    assert "Sqs" in rule["ErrorAction"]


def test_camera_policy_limits_a_certificate_to_its_own_thing_and_site(template: dict[str, Any]) -> None:
    policy = of_type(template, "AWS::IoT::Policy")["CameraPolicy"]["PolicyDocument"]
    by_action = {s["Action"]: s for s in policy["Statement"]}
    assert set(by_action) == {"iot:Connect", "iot:Publish"}
    assert all(s["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}} for s in by_action.values())
    publish = json.dumps(by_action["iot:Publish"]["Resource"])
    assert "topic/moodlens/${!iot:Connection.Thing.Attributes[site]}/*/events" in publish


CONFIGS = [AlarmConfig(), AlarmConfig(window_minutes=5, min_tracks=8, low_raise=-0.35, low_clear=-0.1, raise_m=2,
                                      raise_n=4, clear_m=3)]


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "custom"])
def test_net_score_alarms_per_site_carry_the_engine_thresholds(template: dict[str, Any], config: AlarmConfig) -> None:
    built = template if config == AlarmConfig() else build_template(INVENTORY, config)
    alarms = {k: v for k, v in of_type(built, "AWS::CloudWatch::Alarm").items() if k.startswith("NetScore")}
    assert set(alarms) == {logical_id("net-score", site) for site in INVENTORY}
    for site in INVENTORY:
        alarm = alarms[logical_id("net-score", site)]
        assert (alarm["Threshold"], alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (
            config.low_raise, config.raise_m, config.raise_n)
        stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
        assert {s["Period"] for s in stats} == {config.window_minutes * 60}
        assert {s["Metric"]["MetricName"] for s in stats} == {container.NET_SCORE, container.TRACKS}
        assert all(s["Metric"]["Dimensions"] == [{"Name": container.SITE_DIMENSION, "Value": site}] for s in stats)
        gate = next(m["Expression"] for m in alarm["Metrics"] if m["ReturnData"])
        assert gate == f"IF(tracks >= {config.min_tracks}, net, 1)"
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize(("alarms", "match"), [
    (AlarmConfig(window_minutes=7), "not one of the engine's windows"),
    (AlarmConfig(low_raise=1.0, low_clear=1.0), "too few tracks"),  # the gate's filler value would breach
])
def test_rules_the_template_cannot_express_are_refused(alarms: AlarmConfig, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_template(INVENTORY, alarms, EngineConfig(window_minutes=(5, 15)))


def test_lag_and_every_dead_letter_queue_are_alarmed(template: dict[str, Any]) -> None:
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    watched = {json.dumps(a.get("Dimensions")) for a in alarms.values() if a.get("AlarmActions") ==
               [{"Ref": "AlarmTopic"}]}
    for queue in of_type(template, "AWS::SQS::Queue"):
        assert json.dumps([{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]) in watched
    lag = alarms["ConsumerLagAlarm"]
    assert (lag["Namespace"], lag["MetricName"]) == ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")


def test_consumer_scales_on_lag_only_in_kcl_mode(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    scaling = [k for k, v in resources.items() if v["Type"].startswith("AWS::ApplicationAutoScaling")]
    assert scaling and all(resources[k]["Condition"] == "ScaleOut" for k in scaling)
    assert template["Conditions"]["ScaleOut"] == {"Fn::Equals": [{"Ref": "ConsumerMode"}, "kcl"]}
    high = resources["ConsumerLagHigh"]["Properties"]
    assert high["MetricName"] == "GetRecords.IteratorAgeMilliseconds"
    assert high["AlarmActions"] == [{"Ref": "ConsumerScaleOut"}]


def test_schedules_start_the_compaction_and_the_drift_hourly_and_the_report_weekly(
        template: dict[str, Any]) -> None:
    schedules = of_type(template, "AWS::Scheduler::Schedule")
    definitions = of_type(template, "AWS::ECS::TaskDefinition")
    started = {}
    for name, schedule in schedules.items():
        task = schedule["Target"]["EcsParameters"]["TaskDefinitionArn"]["Ref"]
        (definition,) = definitions[task]["ContainerDefinitions"]
        words = [w["Fn::Sub"] if isinstance(w, dict) else w for w in definition["Command"]]
        started[name] = (schedule["ScheduleExpression"], words)
        assert "DeadLetterConfig" in schedule["Target"]
    assert started == {"CompactionSchedule": ("cron(10 * * * ? *)", container.compaction_command()),
                       "ReportSchedule": ("cron(0 6 ? * MON *)", container.report_command()),
                       "DriftSchedule": ("cron(40 * * * ? *)", container.drift_command())}


def test_the_drift_task_may_only_read_the_lake_put_moodlens_metrics_and_keep_its_record(
        template: dict[str, Any]) -> None:
    drift = [st for where, st in statements(template) if where.startswith("DriftTaskRole/")]
    granted = {a for st in drift for a in actions(st)}
    assert not any(a.startswith(("s3:Delete", "glue:Create", "glue:Update")) for a in granted)
    assert "cloudwatch:PutMetricData" in granted
    (put,) = [st for st in drift if "s3:PutObject" in actions(st)]
    assert put["Resource"]["Fn::Join"][1][2] == container.DRIFT_PREFIX
    assert container.drift_command()[container.drift_command().index("--due") + 1].startswith(
        f"s3://{container.DATA_BUCKET}/{container.DRIFT_PREFIX}")
    alarm = template["Resources"]["ModelDriftAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"]) == ("ModelDriftMax", 0.25)


def test_only_the_compaction_writes_the_lake_and_only_the_report_writes_reports(template: dict[str, Any]) -> None:
    writes: dict[str, set[str]] = {}
    for where, statement in statements(template):
        if {"s3:PutObject", "s3:DeleteObject"} & set(actions(statement)):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:  # bucket ARN, "/", prefix, "*" (storage.object_arns)
                writes.setdefault(resource["Fn::Join"][1][2], set()).add(where.split("/")[0])
    assert writes[container.LAKE_PREFIX] == {"CompactionTaskRole"}
    assert writes[container.REPORTS_PREFIX] == {"ReportTaskRole"}
    assert writes[container.DRIFT_PREFIX] == {"DriftTaskRole"}
    assert writes[container.STATE_PREFIX] == {"ConsumerTaskRole"}


def test_tasks_get_every_resource_name_they_need(template: dict[str, Any]) -> None:
    names = {getattr(container, n) for n in dir(container) if n.startswith("ENV_")}
    for task in of_type(template, "AWS::ECS::TaskDefinition").values():
        (definition,) = task["ContainerDefinitions"]
        assert names <= {e["Name"] for e in definition["Environment"]}
        assert definition["ReadonlyRootFilesystem"] is True
    consumer = of_type(template, "AWS::ECS::TaskDefinition")["ConsumerTask"]["ContainerDefinitions"][0]
    condition, kcl, single = consumer["Command"]["Fn::If"]
    assert condition == "ScaleOut"
    host = container.host_arguments(EngineConfig(), AlarmConfig())
    for words, expected in ((kcl, container.kcl_command(host)), (single, container.consumer_command(host))):
        assert [w["Fn::Sub"] if isinstance(w, dict) else w for w in words] == expected


def test_the_lake_tables_and_views_sit_in_the_stack_database_under_the_lake_prefix(template: dict[str, Any]) -> None:
    database = of_type(template, "AWS::Glue::Database")["LakeDatabase"]["DatabaseInput"]
    tables = of_type(template, "AWS::Glue::Table")
    assert tables, "the lake's tables and views (batch.catalog.athena_resources)"
    assert {t["DatabaseName"] for t in tables.values()} == {database["Name"]} == {container.LAKE_DATABASE}
    iceberg = [t for t in tables.values() if "OpenTableFormatInput" in t]
    lake = "s3://${DataBucket}/" + container.LAKE_PREFIX.rstrip("/")
    assert iceberg and all(lake in json.dumps(t["TableInput"]["StorageDescriptor"]["Location"]) for t in iceberg)
    assert container.LAKE_PREFIX in database["LocationUri"]["Fn::Sub"]
    assert len(of_type(template, "AWS::Athena::WorkGroup")) == 1  # the stack's, with the scan-limit parameter


# ------------------------------------------------------------------------------------------------ thresholds


def consumer_settings(template: dict[str, Any]) -> list[tuple[EngineConfig, AlarmConfig]]:
    """What the consumer task would run with, in both modes, read back through the CLI."""
    from moodlens.cli import build_parser
    from moodlens.commands.stream_host import host_config
    from tests.deploy.test_container_commands import concrete, kcl_worker_of

    consumer = of_type(template, "AWS::ECS::TaskDefinition")["ConsumerTask"]["ContainerDefinitions"][0]
    _, kcl, single = consumer["Command"]["Fn::If"]
    kcl_words, single_words = ([w["Fn::Sub"] if isinstance(w, dict) else w for w in words] for words in (kcl, single))
    daemon = build_parser().parse_args(concrete(kcl_words))
    found = []
    for words in (concrete(single_words), kcl_worker_of(daemon.worker_args)):
        config = host_config(build_parser().parse_args(words))
        found.append((config.engine, config.alarms))
    return found


def test_a_thresholds_file_sets_the_consumer_and_the_net_score_alarms_alike(tmp_path: Path, capsys) -> None:
    from deploy.stack.template import main

    (tmp_path / "inventory.json").write_text(json.dumps({"cafe-1": ["cam-a"]}))
    (tmp_path / "thresholds.json").write_text(json.dumps({
        "min_tracks": 8, "low_raise": -0.35, "alarm_window_minutes": 5, "window_minutes": [5, 30],
        "hold_minutes": 45}))
    assert main(["--inventory", str(tmp_path / "inventory.json"), "--thresholds", str(tmp_path / "thresholds.json"),
                 "--out", str(tmp_path / "stack.json")]) == 0
    template = json.loads((tmp_path / "stack.json").read_text())
    engine = EngineConfig(window_minutes=(5, 30), min_tracks=8)
    alarms = AlarmConfig(window_minutes=5, min_tracks=8, low_raise=-0.35, hold_minutes=45)
    assert consumer_settings(template) == [(engine, alarms), (engine, alarms)]
    net = of_type(template, "AWS::CloudWatch::Alarm")[logical_id("net-score", "cafe-1")]
    (gated,) = [m for m in net["Metrics"] if "Expression" in m]
    assert net["Threshold"] == -0.35 and "tracks >= 8" in gated["Expression"]
    assert {m["MetricStat"]["Period"] for m in net["Metrics"] if "MetricStat" in m} == {300}
    # the analysts' views and the weekly report hide by the same setting
    from moodlens.cli import build_parser
    from tests.deploy.test_container_commands import concrete

    view = of_type(template, "AWS::Glue::Table")["LakeViewSentimentByHourSite"]["TableInput"]
    encoded = view["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    sql = json.loads(base64.b64decode(encoded))["originalSql"]
    assert "tracks < 8" in sql and "tracks < 5" not in sql
    (report,) = of_type(template, "AWS::ECS::TaskDefinition")["ReportTask"]["ContainerDefinitions"]
    words = concrete([w["Fn::Sub"] if isinstance(w, dict) else w for w in report["Command"]])
    assert build_parser().parse_args(words).min_tracks == 8


def test_the_committed_stack_runs_the_consumer_with_the_default_settings(template: dict[str, Any]) -> None:
    assert consumer_settings(template) == [(EngineConfig(), AlarmConfig())] * 2


@pytest.mark.parametrize(("content", "message"), [
    ('{"min_trakcs": 8}', "thresholds.json: min_trakcs: unknown setting (did you mean 'min_tracks'?)"),
    ('{"min_tracks": 0}', "thresholds.json: min_tracks: must be a finite number at least 1, got 0"),
    ('{"alarm_window_minutes": 10}', "alarm window_minutes 10 is not one of the window lengths; choose one of 5, 15"),
    ('{"lateness_s": "2m"}', "thresholds.json: lateness_s: must be a number, got text '2m'"),
    ('{"drop_detection": "cusum"}', "thresholds.json: drop_detection: must be one of sequential, windows"),
    ('{"low_raise": 0.5, "low_clear": 0.1}', "low_clear"),
    ('{"min_tracks": 8,}', "not JSON (line 1"),
    ('[8]', "one JSON object"),
])
def test_a_bad_thresholds_file_is_named_with_its_setting(tmp_path: Path, capsys, content: str, message: str) -> None:
    from deploy.stack.template import main

    (tmp_path / "inventory.json").write_text(json.dumps({"cafe-1": ["cam-a"]}))
    (tmp_path / "thresholds.json").write_text(content)
    assert main(["--inventory", str(tmp_path / "inventory.json"), "--thresholds", str(tmp_path / "thresholds.json"),
                 "--out", str(tmp_path / "stack.json")]) == 2
    err = capsys.readouterr().err
    assert "thresholds.json" in err and message in err
    assert not (tmp_path / "stack.json").exists()
