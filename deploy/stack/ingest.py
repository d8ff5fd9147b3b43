"""The way in: each camera's IoT policy and thing type, the topic rule that forwards
`moodlens/{site}/{camera}/events` into the Kinesis stream (partition key = site), and the stream.

A camera's certificate may only connect as its own thing and publish under its own site's topics:
the policy reads the site from the thing's `site` attribute (set by `moodlens edge provision`), so one
policy serves every camera and a new site needs no redeploy.
"""

from __future__ import annotations

from deploy.container import RAW_EVENTS_PREFIX
from deploy.stack.cfn import Json, allow, arn, att, named, ref, service_role
from deploy.stack.storage import KEY_ARN, RAW_ERRORS_PREFIX, key_use, object_arns

TOPIC_FILTER = "moodlens/+/+/events"  # edge.publish.iot.TOPIC_TEMPLATE with site and camera as levels
SITE_ATTRIBUTE = "site"
CAMERA_ATTRIBUTE = "camera"
STREAM = "EventStream"


def event_stream() -> dict[str, Json]:
    return {STREAM: {"Type": "AWS::Kinesis::Stream", "Properties": {
        "Name": named("events"),
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},  # no shard planning; pays per GB
        "RetentionPeriodHours": 24,
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": KEY_ARN}}}}


def camera_policy() -> Json:
    """Connect as the thing the certificate is attached to (client id = thing name, or the Greengrass
    component's `<thing>-moodlens`), publish only to topics of the thing's own site."""
    thing = "${!iot:Connection.Thing.ThingName}"
    site = "${!iot:Connection.Thing.Attributes[" + SITE_ATTRIBUTE + "]}"
    attached = {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    return {"Type": "AWS::IoT::Policy", "Properties": {
        "PolicyName": named("camera"),
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            allow("iot:Connect", [arn("iot", f"client/{thing}"), arn("iot", f"client/{thing}-moodlens")], attached),
            allow("iot:Publish", arn("iot", f"topic/moodlens/{site}/*/events"), attached),
        ]}}}


def thing_type() -> Json:
    return {"Type": "AWS::IoT::ThingType", "Properties": {
        "ThingTypeName": named("camera"),
        "ThingTypeProperties": {"ThingTypeDescription": "a moodlens edge camera (one site, one camera id)",
                                "SearchableAttributes": [SITE_ATTRIBUTE, CAMERA_ATTRIBUTE]}}}


def topic_rule() -> dict[str, Json]:
    role = service_role("iot.amazonaws.com", {
        "put-events": [allow(["kinesis:PutRecord"], att(STREAM)), key_use("kinesis")],
        "report-errors": [allow("sqs:SendMessage", att("IngestErrorQueue")), key_use("sqs")],
    })
    rule = {"Type": "AWS::IoT::TopicRule", "Properties": {
        # Rule names allow only [a-zA-Z0-9_]: the stack's name may carry '-'.
        "TopicRulePayload": {
            "Description": "edge events into the Kinesis stream, partitioned by site",
            "Sql": f"SELECT * FROM '{TOPIC_FILTER}'",  # nosec B608: IoT rule SQL from a module constant
            "AwsIotSqlVersion": "2016-03-23",
            "RuleDisabled": False,
            "Actions": [{"Kinesis": {"StreamName": ref(STREAM), "PartitionKey": "${topic(2)}",
                                     "RoleArn": att("IngestRuleRole")}}],
            # A message Kinesis refused (throttled, too big) lands here with the failure's reason.
            "ErrorAction": {"Sqs": {"QueueUrl": ref("IngestErrorQueue"), "RoleArn": att("IngestRuleRole"),
                                    "UseBase64": True}}}}}
    return {"IngestRuleRole": role, "IngestRule": rule}


def event_archive() -> dict[str, Json]:
    """Every event as it arrived, from the stream into raw/events/ (gzip JSON Lines, one folder per
    UTC date): what the lake's face_expression and camera_heartbeat tables are compacted from. A
    Kinesis-sourced Firehose reads the stream on its own, so the archive does not depend on the
    consumer being up; the delimiter processor ends each record with a newline."""
    role = service_role("firehose.amazonaws.com", {"read-stream": [
        allow(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
               "kinesis:GetShardIterator", "kinesis:ListShards"], att(STREAM)), key_use("kinesis")],
        "deliver-to-raw": [
            allow(["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket",
                   "s3:ListBucketMultipartUploads"], att("DataBucket")),
            allow(["s3:PutObject", "s3:GetObject"], [object_arns("DataBucket", RAW_EVENTS_PREFIX),
                                                     object_arns("DataBucket", RAW_ERRORS_PREFIX)]),
            key_use("s3"),
            allow("logs:PutLogEvents", {"Fn::Join": ["", [att("FirehoseLogGroup"), ":log-stream:*"]]})]})
    archive = {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
        "DeliveryStreamName": named("event-archive"),
        "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": att(STREAM), "RoleARN": att("EventArchiveRole")},
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": att("DataBucket"), "RoleARN": att("EventArchiveRole"),
            "Prefix": RAW_EVENTS_PREFIX + "date=!{timestamp:yyyy-MM-dd}/",
            "ErrorOutputPrefix": (RAW_ERRORS_PREFIX
                                  + "events/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"),
            "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 64},
            "CompressionFormat": "GZIP", "FileExtension": ".jsonl.gz",
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]},
            "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY_ARN}},
            "CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": ref("FirehoseLogGroup"),
                                         "LogStreamName": ref("FirehoseLogStream")}}}}
    # no SSE setting of its own: Firehose takes none for a Kinesis source (the stream is KMS-encrypted and
    # the objects are written with the stack's key)
    return {"EventArchiveRole": role, "EventArchive": archive}


def resources() -> dict[str, Json]:
    return {**event_stream(), "CameraPolicy": camera_policy(), "CameraThingType": thing_type(),
            **topic_rule(), **event_archive()}
