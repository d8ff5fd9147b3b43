"""The way in: each camera's IoT policy and thing type, the topic rule that forwards
`moodlens/{site}/{camera}/events` into the Kinesis stream (partition key = site), and the stream.

A camera's certificate may only connect as its own thing and publish under its own site's topics:
the policy reads the site from the thing's `site` attribute (set by `moodlens edge provision`), so one
policy serves every camera and a new site needs no redeploy.
"""

from __future__ import annotations

from deploy.stack.cfn import Json, allow, arn, att, named, ref, service_role
from deploy.stack.storage import KEY_ARN, key_use

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


def resources() -> dict[str, Json]:
    return {**event_stream(), "CameraPolicy": camera_policy(), "CameraThingType": thing_type(),
            **topic_rule()}
