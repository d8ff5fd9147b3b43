"""`moodlens infra deploy` against a moto server.

What moto can and cannot show: its CloudFormation creates the template's KMS key, buckets, queues,
Kinesis stream, IoT policy and thing type, roles, cluster, topic and log groups (tests/deploy/
moto_stack.py drops the types it does not model and what refers to them); an invalid template is
refused by ValidateTemplate before anything changes. moto never runs an update that fails half-way
and rolls back (it accepts even a VPC that does not exist), so the deployer's handling of
UPDATE_ROLLBACK_COMPLETE is driven by a stand-in client that plays CloudFormation's documented
status sequence. It also cannot update a bucket it created without a BucketName (a moto limit), so
the update test names its buckets.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploy.deployer import Aws, check_image, next_steps, report_failures, wait
from deploy.preflight import PreflightError
from moodlens.cli import main
from tests.deploy.moto_stack import moto_subset

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "cloudformation" / "moodlens.json"


def subset(tmp_path: Path, bucket_names: str | None = None) -> Path:
    template = moto_subset(json.loads(TEMPLATE.read_text()))
    if bucket_names:  # moto updates a bucket only when the template names it
        for name, resource in template["Resources"].items():
            if resource["Type"] == "AWS::S3::Bucket":
                resource["Properties"]["BucketName"] = f"{bucket_names}-{name.lower()}"
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(template))
    return path


def deploy_cli(endpoint: str, template: Path, stack: str, *params: str) -> int:
    args = ["infra", "deploy", "--endpoint-url", endpoint, "--template", str(template), "--stack-name", stack]
    for param in params:
        args += ["--param", param]
    return main(args)


def outputs_printed(text: str) -> dict[str, str]:
    rows = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith((" ", "deploying"))]
    return {row[0]: row[1] for row in rows if len(row) == 2}


def parameters(cfn: Any, stack: str) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName=stack)["Stacks"][0][
        "Parameters"]}


def test_deploy_creates_then_updates_the_stack_and_an_invalid_template_changes_nothing(
        aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = subset(tmp_path, bucket_names="deploy-test")
    assert deploy_cli(aws_env, template, "deploy-test", "RawRetentionDays=40") == 0
    printed = outputs_printed(capsys.readouterr().out)
    assert {"StreamName", "DataBucket", "StateBucket", "IotEndpoint"} <= set(printed)
    assert printed["IotEndpoint"].endswith(".amazonaws.com")
    kinesis = boto3.client("kinesis", endpoint_url=aws_env)
    summary = kinesis.describe_stream_summary(StreamName=printed["StreamName"])["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"  # (moto's CloudFormation ignores its mode and encryption)
    s3 = boto3.client("s3", endpoint_url=aws_env)
    rule = s3.get_bucket_encryption(Bucket=printed["StateBucket"])["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    cfn = boto3.client("cloudformation", endpoint_url=aws_env)
    before = parameters(cfn, "deploy-test")
    ec2 = boto3.client("ec2", endpoint_url=aws_env)  # the network: the region's default VPC, since none was given
    assert ec2.describe_vpcs(VpcIds=[before["VpcId"]])["Vpcs"][0]["IsDefault"] is True

    assert deploy_cli(aws_env, template, "deploy-test", "RawRetentionDays=50") == 0
    assert parameters(cfn, "deploy-test") == {**before, "RawRetentionDays": "50"}
    assert cfn.describe_stacks(StackName="deploy-test")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert "UPDATE_COMPLETE" in capsys.readouterr().out

    broken = json.loads(template.read_text())
    broken["Outputs"]["Broken"] = {"Value": {"Fn::GetAtt": ["NoSuchResource", "Arn"]}}
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken))
    assert deploy_cli(aws_env, bad, "deploy-test", "RawRetentionDays=60") == 2
    assert "NoSuchResource" in capsys.readouterr().err
    stack = cfn.describe_stacks(StackName="deploy-test")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert parameters(cfn, "deploy-test")["RawRetentionDays"] == "50"
    assert "Broken" not in {o["OutputKey"] for o in stack["Outputs"]}


class RollingBackCloudFormation:
    """CloudFormation's status sequence for an update whose resource fails (moto has none)."""

    def __init__(self) -> None:
        self.statuses = ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's argument names)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Stacks": [{"StackName": StackName, "StackStatus": status}]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        now = datetime.now(UTC)
        return {"StackEvents": [
            {"LogicalResourceId": "ConsumerService", "ResourceType": "AWS::ECS::Service", "Timestamp": now,
             "ResourceStatus": "UPDATE_FAILED", "ResourceStatusReason": "image not found"},
            {"LogicalResourceId": "Cluster", "ResourceType": "AWS::ECS::Cluster", "Timestamp": now,
             "ResourceStatus": "UPDATE_COMPLETE"}]}


def test_a_failed_update_is_reported_with_the_failing_resource_and_its_reason() -> None:
    cfn, out, naps = RollingBackCloudFormation(), io.StringIO(), list[float]()
    assert wait(cfn, "moodlens", 5.0, naps.append, out) == "UPDATE_ROLLBACK_COMPLETE"
    assert naps == [5.0, 5.0]
    report_failures(cfn, "moodlens", datetime.now(UTC).timestamp(), out)
    text = out.getvalue()
    assert "ConsumerService (AWS::ECS::Service): UPDATE_FAILED: image not found" in text
    assert "Cluster" not in text.split("UPDATE_ROLLBACK_COMPLETE")[1]


IMAGE = ["--param", "ImageUri=repo/moodlens:1"]
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--region", "mars-north-1"], {}, "region mars-north-1 is not supported"),
    (["--region", "eu-wset-1"], {}, "no region of that name (did you mean eu-west-1?)"),
    (["--param", f"ImageUri={ECR}/never-pushed:0.1.0"], {},
     f"ImageUri='{ECR}/never-pushed:0.1.0': ECR has no repository never-pushed"),
    (["--param", "ImageUri=123456789012.dkr.ecr.eu-central-1.amazonaws.com/moodlens:0.1.0"], {},
     "the tasks pull images from ECR in account 123456789012, region eu-west-1 only"),
    ([], {"AWS_DEFAULT_REGION": ""}, "no AWS region"),
    ([], {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}, "no AWS credentials"),
    ([*IMAGE, "--param", "ConsumerMode=many"], {}, "ConsumerMode='many': must be one of"),
    ([*IMAGE, "--param", "RawRetentionDays=1"], {}, "RawRetentionDays='1': must be at least"),
    ([*IMAGE, "--param", "Shards=4"], {}, "unknown parameter Shards"),
    ([*IMAGE, "--param", "AlarmEmail=ops"], {}, "AlarmEmail='ops': an e-mail address"),
    (["--param", "ImageUri=moodlens"], {}, "ImageUri='moodlens': an image reference"),
    (["--param", "VpcId=vpc-1", "--param", "SubnetIds=subnet-1"], {}, "parameter ImageUri is required"),
    (["--param", "ImageUri"], {}, "--param 'ImageUri': expected KEY=VALUE"),
])
def test_bad_input_is_refused_before_anything_is_created(aws_env: str, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], args: list[str],
                                                         env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    stack = "refused-" + str(abs(hash(message)))
    rc = main(["infra", "deploy", "--endpoint-url", aws_env, "--template", str(TEMPLATE), "--stack-name", stack, *args])
    assert rc == 2
    assert message in capsys.readouterr().err
    cfn = Aws("eu-west-1", aws_env).session.client("cloudformation", endpoint_url=aws_env,
                                                  aws_access_key_id="t", aws_secret_access_key="t")
    assert stack not in {s["StackName"] for s in cfn.list_stacks()["StackSummaries"]}


def test_a_template_over_the_inline_limit_goes_through_a_private_staging_bucket(
        aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    template = moto_subset(json.loads(TEMPLATE.read_text()))
    kept = ("AWS::SQS::Queue", "AWS::KMS::Key")
    template["Resources"] = {k: v for k, v in template["Resources"].items() if v["Type"] in kept}
    template["Outputs"] = {"DeadLetterQueueUrl": template["Outputs"]["DeadLetterQueueUrl"]}
    template["Parameters"] = {}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(template))
    monkeypatch.setattr("deploy.deployer.MAX_TEMPLATE_BODY", 100)  # as if it were over 51,200 bytes
    assert deploy_cli(aws_env, path, "staged-test") == 0
    assert "DeadLetterQueueUrl" in outputs_printed(capsys.readouterr().out)
    s3 = boto3.client("s3", endpoint_url=aws_env)
    bucket = "moodlens-templates-123456789012-eu-west-1"
    (stored,) = s3.list_objects_v2(Bucket=bucket, Prefix="cloudformation/staged-test/")["Contents"]
    assert json.loads(s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read()) == template
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_an_ecr_image_is_checked_before_the_tasks_would_fail_to_pull_it(aws_env: str) -> None:
    """A tag never pushed would stall the ECS service until its circuit breaker rolls the stack back; a
    pushed one (by tag or digest) passes, and an image of another registry is not looked up."""
    ecr = boto3.client("ecr", endpoint_url=aws_env)
    ecr.create_repository(repositoryName="moodlens-ecr-check")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {}, "layers": []})
    digest = ecr.put_image(repositoryName="moodlens-ecr-check", imageManifest=manifest,
                           imageTag="0.1.0")["image"]["imageId"]["imageDigest"]
    aws = Aws("eu-west-1", aws_env)
    check_image(aws, f"{ECR}/moodlens-ecr-check:0.1.0", "123456789012", "eu-west-1")
    check_image(aws, f"{ECR}/moodlens-ecr-check@{digest}", "123456789012", "eu-west-1")
    check_image(aws, "ghcr.io/example/moodlens:0.1.0", "123456789012", "eu-west-1")
    with pytest.raises(PreflightError, match=r"has no image 0\.1\.1 in repository moodlens-ecr-check: build and push"):
        check_image(aws, f"{ECR}/moodlens-ecr-check:0.1.1", "123456789012", "eu-west-1")


def test_the_deploy_ends_with_what_to_do_next(aws_env: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy_cli(aws_env, subset(tmp_path), "next-test") == 0
    out = capsys.readouterr().out
    assert f"moodlens edge provision --stack-name next-test --region eu-west-1 --endpoint-url {aws_env} " \
           "--site SITE --camera CAMERA" in out.split("next:")[1]
    assert next_steps("moodlens", "eu-west-1", None, {"AlarmEmail": "ops@example.com"})[1] == (
        "  confirm the subscription in the mail AWS sent to ops@example.com: until then alarms reach no one")
    assert not any("mail" in line for line in next_steps("moodlens", "eu-west-1", None, {"AlarmEmail": ""}))


def test_an_ecr_the_deployer_may_not_read_is_a_warning_not_a_refusal(aws_env: str) -> None:
    from botocore.exceptions import ClientError

    class Denied:
        def describe_images(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "DescribeImages")

    aws = Aws("eu-west-1", aws_env)
    aws.client = lambda service: Denied()  # type: ignore[method-assign]
    warning = check_image(aws, f"{ECR}/moodlens:0.1.0", "123456789012", "eu-west-1")
    assert warning is not None and "not checked in ECR" in warning and "AccessDeniedException" in warning


def test_a_template_bucket_that_does_not_exist_is_named(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("deploy.deployer.MAX_TEMPLATE_BODY", 100)  # as if it were over 51,200 bytes
    rc = main(["infra", "deploy", "--endpoint-url", aws_env, "--template", str(subset(tmp_path)),
               "--stack-name", "no-bucket-test", "--template-bucket", "no-such-templates-bucket"])
    assert rc == 2
    assert "--template-bucket no-such-templates-bucket:" in capsys.readouterr().err
    cfn = boto3.client("cloudformation", endpoint_url=aws_env)
    assert "no-bucket-test" not in {s["StackName"] for s in cfn.list_stacks()["StackSummaries"]}


def test_an_aws_refusal_the_deployer_does_not_expect_is_a_message_not_a_traceback(
        aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.exceptions import ClientError

    def denied(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeStacks")

    monkeypatch.setattr("deploy.deployer.existing_stack", denied)
    rc = main(["infra", "deploy", "--endpoint-url", aws_env, "--template", str(subset(tmp_path)),
               "--stack-name", "denied-test"])
    assert rc == 2
    assert "AccessDenied" in capsys.readouterr().err


def test_a_template_not_found_says_how_to_get_one(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The default template path is relative to the repository's root: run elsewhere, the message says so."""
    monkeypatch.chdir(tmp_path)
    assert main(["infra", "deploy", "--endpoint-url", aws_env, "--stack-name", "no-template-test"]) == 2
    err = capsys.readouterr().err
    assert "template infra/cloudformation/moodlens.json: no such file" in err
    assert "--template PATH" in err and "python -m deploy.stack" in err
