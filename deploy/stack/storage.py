"""Where data rests: the customer-managed KMS key, the S3 buckets, the SQS dead-letter queues, the
Firehose delivery into `raw/`, and the Glue database and Athena workgroup of the lake.

Every bucket comes from `encrypted_bucket` (KMS, versioned, public access blocked, owner-enforced,
access-logged, TLS-only policy) and every queue from `encrypted_queue`, so no resource can be the one
that was forgotten.
"""

from __future__ import annotations

from typing import Any

from deploy.container import LAKE_DATABASE, LAKE_PREFIX, RAW_PREFIX
from deploy.stack.cfn import Json, allow, arn, att, document, named, ref, service_role, skip_checkov, sub
from schemas.privacy import DEFAULT_MIN_TRACKS

KEY = "DataKey"
KEY_ARN = att(KEY)
RAW_ERRORS_PREFIX = "raw-errors/"
RETENTION_14_DAYS_S = 1_209_600  # SQS maximum: dead letters wait two weeks for someone to look
_KMS_USE = ["kms:Decrypt", "kms:GenerateDataKey"]


def data_key() -> Json:
    """One customer-managed key for the stack's data at rest. Key policy: the account administers it
    through IAM (the AWS default statement), and the two services that use it without a role of ours:
    CloudWatch Logs (scoped by its encryption context to this account's log groups) and CloudWatch
    alarms publishing to the encrypted SNS topic."""
    account_root = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    return skip_checkov({"Type": "AWS::KMS::Key", "Properties": {
        "Description": named("data at rest"),
        "EnableKeyRotation": True,
        "KeyPolicy": document(
            {"Sid": "AccountAdministersThroughIam", "Effect": "Allow", "Principal": {"AWS": account_root},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "CloudWatchLogs", "Effect": "Allow",
             "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                        "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
             "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("logs", "log-group:*")}}},
            {"Sid": "CloudWatchAlarmsToEncryptedTopic", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": _KMS_USE, "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}},
        )}}, CKV_AWS_33="the only AWS principal is this account's root (the default key policy: IAM decides)")


def key_use(via_service: str | None = None) -> Json:
    """Encrypt/decrypt with the stack's key, optionally only through one service."""
    condition = {"StringEquals": {"kms:ViaService": sub(f"{via_service}.${{AWS::Region}}.amazonaws.com")}} \
        if via_service else None
    return allow(_KMS_USE, KEY_ARN, condition)


def encrypted_bucket(purpose: str, lifecycle: list[Json], logs: bool = True, noncurrent_days: int = 7) -> Json:
    """A private, versioned, KMS-encrypted bucket (CloudFormation names it: bucket names are global)."""
    properties: Json = {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
            "BucketKeyEnabled": True}]},  # one KMS call per bucket key, not per object: cost
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": {"Rules": [
            *lifecycle,
            {"Id": "tidy", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
        "Tags": [{"Key": "moodlens:purpose", "Value": purpose}],
    }
    if logs:
        properties["LoggingConfiguration"] = {"DestinationBucketName": ref("AccessLogBucket"),
                                              "LogFilePrefix": f"{purpose}/"}
    return {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": properties}


def tls_only_policy(bucket: str, extra: list[Json] | None = None) -> Json:
    bucket_arn = att(bucket)
    return {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": ref(bucket), "PolicyDocument": document(
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        *(extra or []))}}


def expire(prefix: str, days: Any) -> Json:
    return {"Id": f"expire-{prefix.strip('/') or 'all'}", "Status": "Enabled", "Prefix": prefix,
            "ExpirationInDays": days}


def buckets() -> dict[str, Json]:
    log_bucket = encrypted_bucket("access-logs", [expire("", 90)], logs=False)
    # S3 server access logs can only be delivered to a bucket with SSE-S3, not SSE-KMS.
    log_bucket["Properties"]["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [{
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    skip_checkov(log_bucket, CKV_AWS_18="it is the access-log target; logging it would log itself")
    log_delivery = {"Sid": "ServerAccessLogs", "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
                    "Resource": {"Fn::Join": ["", [att("AccessLogBucket"), "/*"]]},
                    "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}}
    raw = expire(RAW_PREFIX, ref("RawRetentionDays"))
    return {
        "AccessLogBucket": log_bucket,
        "AccessLogBucketPolicy": tls_only_policy("AccessLogBucket", [log_delivery]),
        # raw/ (Firehose), lake/ (Iceberg), reports/: raw/ only needs to outlive a compaction replay.
        "DataBucket": encrypted_bucket("data", [raw, expire(RAW_ERRORS_PREFIX, 30)]),
        "DataBucketPolicy": tls_only_policy("DataBucket"),
        # Checkpoints every 30 s: older versions only guard against a bad write, and a day of them is plenty.
        "StateBucket": encrypted_bucket("state", [], noncurrent_days=1),
        "StateBucketPolicy": tls_only_policy("StateBucket"),
        "AthenaResultsBucket": encrypted_bucket("athena-results", [expire("", 7)]),
        "AthenaResultsBucketPolicy": tls_only_policy("AthenaResultsBucket"),
    }


def encrypted_queue(purpose: str) -> Json:
    return {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": named(purpose), "KmsMasterKeyId": KEY_ARN, "KmsDataKeyReusePeriodSeconds": 3600,
        "MessageRetentionPeriod": RETENTION_14_DAYS_S}}


QUEUES = {
    "DeadLetterQueue": "dead-letters",          # records the consumer could not use, with the reason
    "IngestErrorQueue": "ingest-errors",        # messages the IoT rule could not put into Kinesis
    "ScheduleErrorQueue": "schedule-errors",    # scheduled tasks EventBridge Scheduler could not start
}


def queues() -> dict[str, Json]:
    return {name: encrypted_queue(purpose) for name, purpose in QUEUES.items()}


def object_arns(bucket: str, prefix: str) -> Json:
    return {"Fn::Join": ["", [att(bucket), "/", prefix, "*"]]}


def firehose() -> dict[str, Json]:
    """Direct-put delivery of the consumer's outputs (JSON Lines) into raw/, one folder per UTC date."""
    data = "DataBucket"
    role = service_role("firehose.amazonaws.com", {"deliver-to-raw": [
        allow(["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket",
               "s3:ListBucketMultipartUploads"], att(data)),
        allow(["s3:PutObject", "s3:GetObject"], [object_arns(data, RAW_PREFIX), object_arns(data, RAW_ERRORS_PREFIX)]),
        key_use("s3"),
        allow("logs:PutLogEvents", {"Fn::Join": ["", [att("FirehoseLogGroup"), ":log-stream:*"]]}),
    ]})
    return {
        "FirehoseRole": role,
        "FirehoseLogGroup": log_group("firehose"),
        "FirehoseLogStream": {"Type": "AWS::Logs::LogStream", "Properties": {
            "LogGroupName": ref("FirehoseLogGroup"), "LogStreamName": "delivery"}},
        "OutputDelivery": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
            "DeliveryStreamName": named("outputs"),
            "DeliveryStreamType": "DirectPut",
            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY_ARN},
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": att(data), "RoleARN": att("FirehoseRole"),
                "Prefix": RAW_PREFIX + "date=!{timestamp:yyyy-MM-dd}/",
                "ErrorOutputPrefix": RAW_ERRORS_PREFIX + "!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/",
                "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 64},
                "CompressionFormat": "GZIP", "FileExtension": ".jsonl.gz",  # the host ends each record with \n
                "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY_ARN}},
                "CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": ref("FirehoseLogGroup"),
                                             "LogStreamName": ref("FirehoseLogStream")}}}},
    }


def log_group(purpose: str) -> Json:
    return {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": sub(f"/moodlens/${{AWS::StackName}}/{purpose}"), "RetentionInDays": 365,
        "KmsKeyId": KEY_ARN}}


def lake_catalog() -> dict[str, Json]:
    """The Glue database and the Athena workgroup analysts query through (results encrypted with the
    stack's key, a per-query scan limit, the workgroup's settings enforced on every client)."""
    return {
        "LakeDatabase": {"Type": "AWS::Glue::Database", "Properties": {
            "CatalogId": ref("AWS::AccountId"),
            "DatabaseInput": {"Name": LAKE_DATABASE, "Description": "moodlens event lake (Iceberg)",
                              # where pyiceberg's Glue catalog puts a namespace's tables: <warehouse>/<ns>.db
                              "LocationUri": sub(f"s3://${{DataBucket}}/{LAKE_PREFIX}{LAKE_DATABASE}.db")}}},
        "AnalystWorkGroup": {"Type": "AWS::Athena::WorkGroup", "Properties": {
            "Name": named("analysts"), "State": "ENABLED", "RecursiveDeleteOption": True,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": ref("AthenaScanLimitBytes"),
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "ResultConfiguration": {
                    "OutputLocation": sub("s3://${AthenaResultsBucket}/results/"),
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": KEY_ARN}}}}},
    }


def lake_tables(min_tracks: int = DEFAULT_MIN_TRACKS) -> dict[str, Json]:
    """The lake's Iceberg tables and views in `LakeDatabase`, from the lake's own generator
    (`batch.catalog.athena_resources`: columns from the contract, the views' Trino text). It also
    returns a database and a workgroup; the stack keeps its own (`LakeDatabase`, same logical id and
    name; `AnalystWorkGroup`, with the scan limit as a parameter). `min_tracks`: the stack's setting, the
    fewest customers behind a number the views show."""
    from batch.catalog import athena_resources

    lake = athena_resources(sub(f"s3://${{DataBucket}}/{LAKE_PREFIX.rstrip('/')}"),
                            sub("s3://${AthenaResultsBucket}/results/"), KEY_ARN,
                            min_tracks=min_tracks)
    return {name: resource for name, resource in lake.items() if name not in ("LakeDatabase", "LakeWorkGroup")}
