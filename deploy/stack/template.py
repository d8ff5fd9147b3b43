"""The whole AWS stack as one CloudFormation template, assembled from the area modules.

    python -m deploy.stack --inventory infra/cloudformation/inventory.json --out infra/cloudformation/moodlens.json
    (add --thresholds thresholds.json for other window and alarm settings than the defaults)

The committed template is checked against this generator by a test; cfn-lint and checkov check it
in `make infra-lint`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deploy.container import host_arguments
from deploy.stack import compute, ingest, monitoring, silence, storage
from deploy.stack.cfn import Json, ref, sub
from deploy.stack.thresholds import load_thresholds
from schemas.validation import identifier_problem
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig

Inventory = Mapping[str, Sequence[str]]  # site -> cameras
GIB = 1024**3
MAX_RESOURCES = 500  # CloudFormation's limit per stack

PARAMETERS: dict[str, Json] = {
    "ImageUri": {"Type": "String", "AllowedPattern": r"^\S+[:@]\S+$",
                 "ConstraintDescription": "an image reference with a tag or digest (registry/name:tag)",
                 "Description": "The moodlens container image (infra/Dockerfile), e.g. an ECR image with its tag."},
    "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "VPC of the tasks (moodlens infra deploy: the default VPC)."},
    "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>",
                  "Description": "Subnets of the tasks; public ones with AssignPublicIp=ENABLED, or private ones "
                                 "with a NAT gateway or VPC endpoints."},
    "AssignPublicIp": {"Type": "String", "Default": "ENABLED", "AllowedValues": ["ENABLED", "DISABLED"],
                       "Description": "ENABLED: tasks reach AWS APIs without a NAT gateway (no inbound rule)."},
    "AlarmEmail": {"Type": "String", "Default": "", "AllowedPattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
                   "ConstraintDescription": "an e-mail address, or empty for no subscription",
                   "Description": "E-mail address subscribed to the alarm topic (confirm the mail AWS sends); "
                                  "empty for none."},
    "ConsumerMode": {"Type": "String", "Default": "single", "AllowedValues": ["single", "kcl"],
                     "Description": "single: one consumer task (restarted by ECS); kcl: KCL workers, scaled on lag."},
    "ConsumerMaxTasks": {"Type": "Number", "Default": 4, "MinValue": 1, "MaxValue": 50,
                         "Description": "kcl mode: most consumer tasks (more than the stream's shards do nothing)."},
    "RawRetentionDays": {"Type": "Number", "Default": 30, "MinValue": 2, "MaxValue": 3650,
                         "Description": "Days raw/ outputs are kept after compaction (for replays)."},
    "AthenaScanLimitBytes": {"Type": "Number", "Default": 10 * GIB, "MinValue": 10 * 1024**2,
                             "Description": "Athena cancels a query of the analysts' workgroup past this many bytes."},
}

CONDITIONS: dict[str, Json] = {
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]},
    "ScaleOut": {"Fn::Equals": [ref("ConsumerMode"), "kcl"]},
}


def outputs() -> dict[str, Json]:
    values: dict[str, tuple[Any, str]] = {
        "StreamName": (ref(ingest.STREAM), "Kinesis stream the IoT rule (and --publisher kinesis) writes to"),
        "DataBucket": (ref("DataBucket"), "raw/ (Firehose), lake/ (Iceberg), reports/"),
        "StateBucket": (ref("StateBucket"), "the consumer's checkpoints and per-site state"),
        "AthenaResultsBucket": (ref("AthenaResultsBucket"), "Athena query results"),
        "CameraPolicyName": (ref("CameraPolicy"), "IoT policy moodlens edge provision attaches"),
        "CameraThingType": (ref("CameraThingType"), "IoT thing type of the cameras"),
        "AlarmTopicArn": (ref("AlarmTopic"), "SNS topic of the alarms"),
        "DeadLetterQueueUrl": (ref("DeadLetterQueue"), "records the consumer could not use"),
        "OutputDeliveryStream": (ref("OutputDelivery"), "Firehose delivery of windows, alarms and late events"),
        "ClusterName": (ref("Cluster"), "ECS cluster"),
        "LakeDatabase": (ref("LakeDatabase"), "Glue database"),
        "AthenaWorkGroup": (ref("AnalystWorkGroup"), "Athena workgroup for analysts"),
        "DashboardUrl": (monitoring.dashboard_url(), "CloudWatch dashboard"),
    }
    return {name: {"Value": value, "Description": text} for name, (value, text) in values.items()}


def sites_argument(inventory: Inventory, text: str, where: str) -> str:
    """The `--sites` file checked (IANA zones, known fields, sites of the inventory) and made compact: the
    compaction task's `--sites` argument, and the consumer's (its zones: `deploy.container.host_arguments`)."""
    from batch.lake.tables import sites_from_json

    rows = sites_from_json(text, where).to_pylist()
    unknown = sorted({str(r["site_id"]) for r in rows} - set(inventory))
    if unknown:
        raise ValueError(f"{where}: site(s) {unknown} are not in the inventory ({sorted(inventory)})")
    if any("${" in json.dumps(r) for r in rows):
        raise ValueError(f"{where}: \"${{\" cannot appear in a site's fields (CloudFormation would substitute it)")
    return json.dumps({r["site_id"]: {k: v for k, v in r.items() if k != "site_id" and v is not None} for r in rows},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def check_inventory(inventory: Any, where: str) -> Inventory:
    """The inventory as the stack needs it: site ids and camera ids as the events carry them (a camera
    listed under another spelling would never send and its alarm would never clear), each once."""
    if not isinstance(inventory, dict) or not inventory:
        raise ValueError(f'{where}: give an object of site id -> [camera id, ...], e.g. {{"cafe-1": ["cam-a"]}}')
    for site, cameras in inventory.items():
        if why := identifier_problem(site):
            raise ValueError(f"{where}: site {site!r} is not a site id of the events: {why}")
        if not isinstance(cameras, list) or not all(isinstance(cam, str) for cam in cameras):
            raise ValueError(f"{where}: site {site!r}: give a list of camera ids, got {cameras!r}")
        for camera in cameras:
            if why := identifier_problem(camera):
                raise ValueError(f"{where}: site {site!r}: camera {camera!r} is not a camera id of the events: {why}")
        twice = sorted({cam for cam in cameras if cameras.count(cam) > 1})
        if twice:
            raise ValueError(f"{where}: site {site!r}: camera(s) {twice} listed more than once")
    return inventory


def _site_names(sites_json: str | None) -> dict[str, str]:
    return {site: fields["name"] for site, fields in json.loads(sites_json).items()} if sites_json else {}


def _check_size(resources: Mapping[str, Any], inventory: Inventory, where: str) -> None:
    if len(resources) <= MAX_RESOURCES:
        return
    cameras = sum(len(c) for c in inventory.values())
    room = (MAX_RESOURCES - (len(resources) - 2 * cameras)) // 2
    raise ValueError(f"{where}: {len(inventory)} sites with {cameras} cameras make a stack of {len(resources)} "
                     f"resources; CloudFormation allows {MAX_RESOURCES}. Each camera takes two (its heartbeat and "
                     f"camera-silent alarms): with these sites at most {room} cameras fit. Deploy the sites as "
                     "several stacks, each with its own --inventory and --stack-name.")


def build_template(inventory: Inventory, alarms: AlarmConfig | None = None,
                   engine: EngineConfig | None = None, sites_json: str | None = None,
                   inventory_where: str = "inventory") -> Json:
    """``inventory_where`` names the inventory (its file) in the messages about it."""
    check_inventory(inventory, inventory_where)
    alarms = alarms or AlarmConfig()
    engine = engine or EngineConfig()
    if alarms.window_minutes not in engine.window_minutes:
        raise ValueError(f"alarm window {alarms.window_minutes} min is not one of the engine's windows "
                         f"{engine.window_minutes}")
    if not -1 <= alarms.low_raise < 1:
        raise ValueError(f"low_raise {alarms.low_raise} must be in [-1, 1): 1 marks periods with too few tracks")
    resources: dict[str, Json] = {
        storage.KEY: storage.data_key(),
        "DataKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": sub("alias/${AWS::StackName}-data"), "TargetKeyId": ref(storage.KEY)}},
        **storage.buckets(), **storage.queues(), **storage.firehose(),
        **storage.lake_catalog(), **storage.lake_tables(engine.min_tracks),
        **ingest.resources(),
        **compute.roles(), **compute.consumer(host_arguments(engine, alarms, sites_json), _site_names(sites_json)),
        **compute.schedules(sites_json, engine.min_tracks),
        **monitoring.topic(), **monitoring.operations_alarms(), **monitoring.site_alarms(alarms, inventory),
        **silence.consumer_silent_alarm(alarms),
        **silence.camera_alarms(alarms, engine.allowed_lateness_ms, inventory, _site_names(sites_json)),
        **monitoring.dashboard(),
    }
    _check_size(resources, inventory, inventory_where)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "moodlens AWS mode: IoT Core -> Kinesis -> ECS Fargate consumer -> Firehose/S3, SNS, "
                       "CloudWatch; Glue/Athena lake; scheduled compaction and report. Generated by "
                       "`python -m deploy.stack`: do not edit by hand.",
        "Parameters": PARAMETERS,
        "Conditions": CONDITIONS,
        "Resources": resources,
        "Outputs": outputs(),
    }


def render(template: Mapping[str, Any]) -> str:
    return json.dumps(template, indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--inventory", type=Path, required=True, help="JSON: {site: [camera, ...]}")
    parser.add_argument("--thresholds", type=Path,
                        help="JSON of the stream host's window and alarm settings (the site file's [thresholds] "
                             "keys, plus window_minutes); the consumer and the net-score alarms both use them")
    parser.add_argument("--sites", type=Path,
                        help='JSON: {site: {"name": ..., "timezone": "Europe/Berlin"}}; the hourly compaction writes '
                             "them into the lake's sites table (Glue), so reports and views speak local time, and "
                             "the consumer's alarm baselines learn each site's local hours")
    parser.add_argument("--out", type=Path, help="template path (stdout if omitted)")
    args = parser.parse_args(argv)
    try:
        engine, alarms = load_thresholds(args.thresholds) if args.thresholds else (None, None)
        try:
            document = json.loads(args.inventory.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{args.inventory}: not JSON ({error})") from None
        inventory = check_inventory(document, str(args.inventory))
        sites = sites_argument(inventory, args.sites.read_text(), str(args.sites)) if args.sites else None
        text = render(build_template(inventory, alarms, engine, sites, str(args.inventory)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0

