"""The Glue/Athena resources come from the same code: tables, views, an encrypted, limited workgroup."""

from __future__ import annotations

import base64
import json

from batch.catalog import athena_resources
from batch.lake.tables import EVENT_TABLES, NAMESPACE, QUARANTINE
from batch.sql.views import views
from batch.table_schema import glue_columns
from schemas.contract import CONTRACTS


def test_tables_are_iceberg_with_the_contract_columns_where_pyiceberg_looks() -> None:
    resources = athena_resources("s3://lake-bucket/warehouse", "s3://results/athena/")
    assert resources["LakeDatabase"]["Properties"]["DatabaseInput"]["Name"] == NAMESPACE
    for name in EVENT_TABLES:
        table = resources["LakeTable" + "".join(p.capitalize() for p in name.split("_"))]["Properties"]
        assert table["OpenTableFormatInput"]["IcebergInput"]["Version"] == "2"
        assert table["TableInput"]["StorageDescriptor"]["Columns"] == glue_columns(CONTRACTS[name])
        location = table["TableInput"]["StorageDescriptor"]["Location"]
        assert location == f"s3://lake-bucket/warehouse/{NAMESPACE}.db/{name}"
    quarantine = resources["LakeTableQuarantine"]["Properties"]["TableInput"]
    assert {"Name": "reasons", "Type": "array<string>"} in quarantine["StorageDescriptor"]["Columns"]
    assert quarantine["Name"] == QUARANTINE


def test_views_carry_the_same_trino_text_with_their_column_types() -> None:
    resources = athena_resources({"Fn::Sub": "s3://${LakeBucket}/warehouse"}, "s3://results/")
    for view in views():
        logical_id = "LakeView" + "".join(p.capitalize() for p in view.name.split("_"))
        table = resources[logical_id]["Properties"]["TableInput"]
        assert table["TableType"] == "VIRTUAL_VIEW"
        encoded = table["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
        document = json.loads(base64.b64decode(encoded))
        assert document["originalSql"] == view.trino and document["schema"] == NAMESPACE
        names = [c["name"] for c in document["columns"]]
        assert names == [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    hourly = resources["LakeViewSentimentByHourSite"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    assert {c["Name"]: c["Type"] for c in hourly} == {"site_id": "string", "hour": "timestamp", "tracks": "bigint",
                                                      "local_date": "date", "local_hour": "bigint",
                                                      "local_weekday": "bigint",
                                                      "suppressed": "boolean", "mean_valence": "double",
                                                      "net_score": "double", "net_low": "double",
                                                      "net_high": "double"}


def test_the_workgroup_encrypts_results_and_limits_each_query() -> None:
    plain = athena_resources("s3://w", "s3://r/", scan_limit_bytes=5 * 1024**3)["LakeWorkGroup"]["Properties"]
    config = plain["WorkGroupConfiguration"]
    assert config["BytesScannedCutoffPerQuery"] == 5 * 1024**3 and config["EnforceWorkGroupConfiguration"]
    assert config["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    kms = athena_resources("s3://w", "s3://r/", kms_key_arn={"Fn::GetAtt": ["Key", "Arn"]})["LakeWorkGroup"]
    encryption = kms["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption == {"EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": ["Key", "Arn"]}}


def test_cfn_lint_accepts_the_resources_in_a_template() -> None:
    import json

    from cfnlint.api import ManualArgs, lint
    resources = athena_resources({"Fn::Sub": "s3://${LakeBucket}/warehouse"},
                                 {"Fn::Sub": "s3://${LakeBucket}/athena-results/"},
                                 kms_key_arn={"Fn::GetAtt": ["LakeKey", "Arn"]})
    resources["LakeKey"] = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True, "KeyPolicy": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": {
            "AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}}]}}}
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": {"LakeBucket": {"Type": "String"}},
                "Resources": resources}
    matches = lint(json.dumps(template), config=ManualArgs(regions=["eu-west-1"]))
    assert [str(m) for m in matches] == []
