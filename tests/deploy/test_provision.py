"""`moodlens edge provision` against a moto server, and the settings it writes read back by the edge.

moto's CloudFormation returns an object's repr instead of the name for Ref of an IoT policy or
thing type, so the test creates the camera policy and thing type with the IoT API from the
generated template's own definitions, and a stack whose outputs name them.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.provision import thing_name
from edge.publish.factory import PublisherSettings
from moodlens.cli import main

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((REPO / "infra" / "cloudformation" / "moodlens.json").read_text())
ACCOUNT, REGION = "123456789012", "eu-west-1"


def substitute(node: Any, stack: str) -> Any:
    """Resolves the Fn::Sub strings of the IoT policy as CloudFormation would."""
    if isinstance(node, dict) and "Fn::Sub" in node:
        text = node["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::Region}", REGION)
        return (text.replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::StackName}", stack)
                .replace("${!", "${"))
    if isinstance(node, dict):
        return {k: substitute(v, stack) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, stack) for v in node]
    return node


def camera_stack(endpoint: str, stack: str, policy_exists: bool = True) -> tuple[str, str]:
    iot = boto3.client("iot", endpoint_url=endpoint)
    policy = substitute(TEMPLATE["Resources"]["CameraPolicy"]["Properties"], stack)
    thing_type = substitute(TEMPLATE["Resources"]["CameraThingType"]["Properties"], stack)
    if policy_exists:
        iot.create_policy(policyName=policy["PolicyName"], policyDocument=json.dumps(policy["PolicyDocument"]))
    properties = thing_type["ThingTypeProperties"]  # CloudFormation's PascalCase -> the API's camelCase
    iot.create_thing_type(thingTypeName=thing_type["ThingTypeName"], thingTypeProperties={
        "thingTypeDescription": properties["ThingTypeDescription"],
        "searchableAttributes": properties["SearchableAttributes"]})
    outputs = {"CameraPolicyName": policy["PolicyName"], "CameraThingType": thing_type["ThingTypeName"]}
    boto3.client("cloudformation", endpoint_url=endpoint).create_stack(StackName=stack, TemplateBody=json.dumps({
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {}}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()}}))
    return policy["PolicyName"], thing_type["ThingTypeName"]


def provision(endpoint: str, stack: str, site: str, camera: str, out: Path) -> int:
    return main(["edge", "provision", "--site", site, "--camera", camera, "--out", str(out), "--stack-name", stack,
                 "--endpoint-url", endpoint])


def load_env(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)


def test_provision_creates_the_camera_identity_and_settings_the_edge_reads(
        aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy, thing_type = camera_stack(aws_env, "prov-ok")
    out = tmp_path / "edge"
    assert provision(aws_env, "prov-ok", "cinema.2", "lobby:1", out) == 0

    assert stat.S_IMODE(os.stat(out / "private.key").st_mode) == 0o600
    load_env(out / "moodlens.env", monkeypatch)
    settings = PublisherSettings.from_environment("cinema.2", "lobby:1")
    iot = boto3.client("iot", endpoint_url=aws_env)
    # (moto makes up a new address at each DescribeEndpoint; AWS's is fixed per account and region)
    assert settings.iot_endpoint and settings.iot_endpoint.endswith(f"-ats.iot.{REGION}.amazonaws.com")
    assert settings.iot_port == 8883
    assert settings.iot_ca_file and "Amazon Root CA 1" in _subject(settings.iot_ca_file)
    thing = settings.iot_client_id
    assert thing == thing_name("cinema.2", "lobby:1")
    described = iot.describe_thing(thingName=thing)
    assert described["thingTypeName"] == thing_type
    assert described["attributes"] == {"site": "cinema.2", "camera": "lobby:1"}  # what the policy reads
    (principal,) = iot.list_thing_principals(thingName=thing)["principals"]
    certificate = iot.describe_certificate(certificateId=principal.rsplit("/", 1)[1])["certificateDescription"]
    assert certificate["status"] == "ACTIVE"
    assert settings.iot_cert_file and settings.iot_cert_file.read_text() == certificate["certificatePem"]
    assert [p["policyName"] for p in iot.list_attached_policies(target=principal)["policies"]] == [policy]


def _subject(path: Path) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes()).subject.rfc4514_string().replace("CN=", "").split(",")[0]


@pytest.mark.parametrize(("site", "camera", "field"), [
    ("bad site", "cam-1", "--site 'bad site' is not a valid site_id"),
    ("cafe-1", "_site", "--camera '_site' is not a valid camera_id"),  # the topic level of site-wide events
    ("cafe-1", "c" * 65, "is not a valid camera_id"),
])
def test_invalid_ids_are_refused_before_any_call(aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 site: str, camera: str, field: str) -> None:
    iot = boto3.client("iot", endpoint_url=aws_env)
    things = len(iot.list_things()["things"])
    assert provision(aws_env, "no-such-stack", site, camera, tmp_path / "out") == 2
    assert field in capsys.readouterr().err
    assert len(iot.list_things()["things"]) == things
    assert not (tmp_path / "out").exists()


def test_existing_files_are_never_overwritten(aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    camera_stack(aws_env, "prov-exists")
    (tmp_path / "private.key").write_text("the old key")
    iot = boto3.client("iot", endpoint_url=aws_env)
    certificates = len(iot.list_certificates()["certificates"])
    assert provision(aws_env, "prov-exists", "cafe-1", "cam-1", tmp_path) == 2
    assert "will not overwrite" in capsys.readouterr().err
    assert (tmp_path / "private.key").read_text() == "the old key"
    assert len(iot.list_certificates()["certificates"]) == certificates


def test_a_failure_after_the_certificate_exists_leaves_no_usable_certificate(
        aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    camera_stack(aws_env, "prov-broken", policy_exists=False)  # attach_policy fails
    iot = boto3.client("iot", endpoint_url=aws_env)
    before = {c["certificateArn"] for c in iot.list_certificates()["certificates"]}
    assert provision(aws_env, "prov-broken", "cafe-2", "cam-1", tmp_path / "out") == 2
    assert "the new certificate was deleted" in capsys.readouterr().err
    assert {c["certificateArn"] for c in iot.list_certificates()["certificates"]} == before
    assert not any((tmp_path / "out").glob("*"))


IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(IDS, IDS, IDS, IDS)
def test_thing_names_are_valid_and_distinct_per_camera(site: str, camera: str, other_site: str,
                                                       other_camera: str) -> None:
    name = thing_name(site, camera)
    assert len(name) <= 128
    assert all(c.isascii() and (c.isalnum() or c in ":_-") for c in name)
    if (site, camera) != (other_site, other_camera):
        assert name != thing_name(other_site, other_camera)


def test_provisioning_a_camera_again_names_the_earlier_certificates_still_active(
        aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A camera provisioned again (a replaced box, a lost folder) gets a new certificate; the earlier one
    still connects as that camera until it is revoked, so the command says which and how."""
    camera_stack(aws_env, "prov-again")
    assert provision(aws_env, "prov-again", "cafe-9", "door", tmp_path / "first") == 0
    assert "still active" not in capsys.readouterr().out
    iot = boto3.client("iot", endpoint_url=aws_env)
    (earlier,) = iot.list_thing_principals(thingName=thing_name("cafe-9", "door"))["principals"]
    earlier_id = earlier.rsplit("/", 1)[1]
    assert provision(aws_env, "prov-again", "cafe-9", "door", tmp_path / "second") == 0
    out = capsys.readouterr().out
    assert f"certificate {earlier_id} of an earlier provision is still active" in out
    assert f"aws iot update-certificate --certificate-id {earlier_id} --new-status REVOKED" in out
