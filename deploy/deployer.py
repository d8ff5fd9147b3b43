"""`moodlens infra deploy`: creates or updates the stack with boto3, waits, prints the outputs.

Order matters: region, credentials, the template and every parameter are checked before the first
call that creates anything. A failed create or update is rolled back by CloudFormation itself (the
deployer never passes DisableRollback); the deployer reports the resources that failed and their
reasons and exits 1.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from deploy.preflight import SERVICES, PreflightError, check_parameters, check_region, ecr_image

MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for an inline template; larger ones go through S3
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]


@dataclass(frozen=True)
class DeployRequest:
    template: Path
    stack_name: str = "moodlens"
    region: str | None = None
    endpoint_url: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    template_bucket: str | None = None
    poll_s: float = 10.0


class Aws:
    """boto3 clients of one region and (for moto or a VPC endpoint) one endpoint."""

    def __init__(self, region: str | None, endpoint_url: str | None) -> None:
        self.session = boto3.Session(region_name=region) if region else boto3.Session()
        self.endpoint_url = endpoint_url

    @property
    def region(self) -> str | None:
        return self.session.region_name

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)


@functools.cache
def available_regions() -> dict[str, list[str]]:
    """Regions botocore's bundled endpoint data lists for each service the stack uses."""
    session = boto3.Session()
    return {service: session.get_available_regions(service) for service in SERVICES}


def check_credentials(aws: Aws) -> dict[str, str]:
    """The caller's identity (Arn, Account), or a PreflightError saying what is missing."""
    if aws.session.get_credentials() is None:
        raise PreflightError("no AWS credentials: set AWS_PROFILE (then `aws sso login`) or AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY")
    try:
        identity = aws.client("sts").get_caller_identity()
        return {"Arn": str(identity["Arn"]), "Account": str(identity["Account"])}
    except (ClientError, BotoCoreError) as error:
        raise PreflightError(f"the AWS credentials do not work: {error}") from None


def check_image(aws: Aws, image: str, account: str, region: str) -> str | None:
    """An ECR image the tasks can pull, pushed: an image never pushed would stall the ECS service until its
    circuit breaker gave up and CloudFormation rolled the whole deploy back, many minutes later. Returns a
    warning when ECR could not be asked (the deployer's principal may not read ECR): the deploy goes on."""
    wanted = ecr_image(image, account, region)
    if wanted is None:
        return None
    repository = wanted["repositoryName"]
    image_id = {k: v for k, v in wanted.items() if k in ("imageTag", "imageDigest")}
    push = (f"build and push it first: docker build -f infra/Dockerfile -t {image} . && docker push {image}"
            if "imageTag" in image_id else "push it first")
    try:
        aws.client("ecr").describe_images(registryId=wanted["registryId"], repositoryName=repository,
                                          imageIds=[image_id])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "RepositoryNotFoundException":
            raise PreflightError(f"parameter ImageUri={image!r}: ECR has no repository {repository} (aws ecr "
                                 f"create-repository --repository-name {repository}), so no such image; "
                                 f"{push}") from None
        if code == "ImageNotFoundException":
            raise PreflightError(f"parameter ImageUri={image!r}: ECR has no image {next(iter(image_id.values()))} "
                                 f"in repository {repository}: {push}") from None
        return f"ImageUri {image}: not checked in ECR ({error})"
    except BotoCoreError as error:
        return f"ImageUri {image}: not checked in ECR ({error})"
    return None


def existing_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(cfn.describe_stacks(StackName=name)["Stacks"][0])
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def default_network(ec2: Any) -> dict[str, str]:
    """VpcId and SubnetIds of the region's default VPC (the tasks' network unless given)."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise PreflightError("this region has no default VPC: pass --param VpcId=vpc-... --param SubnetIds=subnet-a,"
                             "subnet-b")
    vpc = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    return {"VpcId": vpc, "SubnetIds": ",".join(sorted(s["SubnetId"] for s in subnets))}


def template_source(request: DeployRequest, body: str, aws: Aws, account: str, region: str) -> dict[str, str]:
    """TemplateBody, or for a template over CloudFormation's inline limit a TemplateURL in S3: the
    --template-bucket, else a private, encrypted staging bucket of this account and region that the
    deployer creates on first use (as `cdk bootstrap` or `sam deploy --resolve-s3` would)."""
    if len(body) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": body}
    s3 = aws.client("s3")
    if request.template_bucket:
        try:
            s3.head_bucket(Bucket=request.template_bucket)
        except ClientError as error:
            raise PreflightError(f"--template-bucket {request.template_bucket}: {error} (leave the flag out to have "
                                 f"the deployer make its own)") from None
    bucket = request.template_bucket or ensure_staging_bucket(s3, f"moodlens-templates-{account}-{region}", region)
    key = f"cloudformation/{request.stack_name}/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ServerSideEncryption="AES256")
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}


def ensure_staging_bucket(s3: Any, name: str, region: str) -> str:
    try:
        s3.head_bucket(Bucket=name)
        return name
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise PreflightError(f"staging bucket {name}: {error}; pass --template-bucket BUCKET") from None
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "old-templates", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}]})
    return name


def deploy(request: DeployRequest, out: IO[str], aws: Aws | None = None,
           sleep: Callable[[float], None] = time.sleep) -> int:
    aws = aws or Aws(request.region, request.endpoint_url)
    region = check_region(aws.region, available_regions())
    identity = check_credentials(aws)
    try:
        template = json.loads(request.template.read_text())
    except FileNotFoundError:
        raise PreflightError(f"template {request.template}: no such file (a relative path is read from the "
                             "current folder: run from the repository's root, or pass --template PATH; `python -m "
                             "deploy.stack --inventory FILE --out PATH` generates one)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise PreflightError(f"template {request.template}: {error}") from None
    body = json.dumps(template, separators=(",", ":"))
    cfn = aws.client("cloudformation")
    stack = existing_stack(cfn, request.stack_name)
    if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        raise PreflightError(f"stack {request.stack_name} failed its first creation (ROLLBACK_COMPLETE) and cannot be "
                             f"updated: delete it (aws cloudformation delete-stack --stack-name "
                             f"{request.stack_name}; its buckets are retained) and deploy again")
    if stack and stack["StackStatus"].endswith("_IN_PROGRESS"):
        raise PreflightError(f"stack {request.stack_name} is busy ({stack['StackStatus']}); try again when it is done")
    declared = template.get("Parameters", {})
    # An update keeps what an earlier deploy set (CloudFormation would fall back to the defaults). The
    # values are passed back rather than UsePreviousValue: the template has no NoEcho parameter.
    previous = {p["ParameterKey"]: p["ParameterValue"] for p in (stack or {}).get("Parameters", [])}
    params = dict(request.params)
    network = {"VpcId", "SubnetIds"} & set(declared)
    find_network = bool(network) and not network & (set(params) | set(previous))
    check_parameters(declared, params, set(previous) | (network if find_network else set()))
    if find_network:
        params.update({k: v for k, v in default_network(aws.client("ec2")).items() if k in network})
        check_parameters(declared, params, previous)
    image = params.get("ImageUri") or previous.get("ImageUri")
    warning = check_image(aws, image, identity["Account"], region) if image and "ImageUri" in declared else None
    source = template_source(request, body, aws, identity["Account"], region)
    try:
        cfn.validate_template(**source)
    except ClientError as error:
        raise PreflightError(f"template {request.template} is invalid: {error}") from None
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]
    parameters += [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(previous.items())
                   if k not in params and k in declared]
    print(f"deploying stack {request.stack_name} to {region} as {identity['Arn']}", file=out)
    if warning:
        print(f"  warning: {warning}", file=out)
    started = time.time()
    try:
        if stack is None:
            cfn.create_stack(StackName=request.stack_name, Parameters=parameters, Capabilities=CAPABILITIES,
                             OnFailure="ROLLBACK", Tags=[{"Key": "moodlens:stack", "Value": request.stack_name}],
                             **source)
        else:
            cfn.update_stack(StackName=request.stack_name, Parameters=parameters, Capabilities=CAPABILITIES,
                             DisableRollback=False, **source)
    except ClientError as error:
        if "No updates are to be performed" not in str(error):
            print(f"CloudFormation refused the {'update' if stack else 'creation'}, nothing changed: {error}",
                  file=out)
            return 1
        print("no changes", file=out)
    status = wait(cfn, request.stack_name, request.poll_s, sleep, out)
    if status not in DONE:
        report_failures(cfn, request.stack_name, started, out)
        print(f"stack {request.stack_name}: {status}: CloudFormation rolled this deploy back", file=out)
        return 1
    print_outputs(cfn, aws, request.stack_name, out)
    print("next:", file=out)
    for line in next_steps(request.stack_name, region, request.endpoint_url,
                           {k: v for k, v in [*previous.items(), *params.items()] if k in declared}):
        print(line, file=out)
    return 0


def next_steps(stack: str, region: str, endpoint_url: str | None, params: Mapping[str, str]) -> list[str]:
    """What the engineer does after a deploy, with this stack's own flags."""
    endpoint = f" --endpoint-url {endpoint_url}" if endpoint_url else ""
    lines = [f"  one identity per camera: moodlens edge provision --stack-name {stack} --region {region}{endpoint} "
             "--site SITE --camera CAMERA"]
    if params.get("AlarmEmail"):
        lines.append(f"  confirm the subscription in the mail AWS sent to {params['AlarmEmail']}: until then alarms "
                     "reach no one")
    lines.append("  expect the consumer-silent alarm until the consumer first writes, then camera-silent for each "
                 "camera not sending yet")
    return lines


def wait(cfn: Any, name: str, poll_s: float, sleep: Callable[[float], None], out: IO[str]) -> str:
    last = ""
    while True:
        status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        if status != last:
            print(f"  {status}", file=out)
            last = status
        if not status.endswith("_IN_PROGRESS"):
            return status
        sleep(poll_s)


def report_failures(cfn: Any, name: str, since: float, out: IO[str]) -> None:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    for event in reversed(events):
        if event["ResourceStatus"].endswith("_FAILED") and event["Timestamp"].timestamp() >= since - 60:
            print(f"  {event['LogicalResourceId']} ({event['ResourceType']}): {event['ResourceStatus']}: "
                  f"{event.get('ResourceStatusReason', '')}", file=out)


def print_outputs(cfn: Any, aws: Aws, name: str, out: IO[str]) -> None:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    rows = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    try:
        rows["IotEndpoint"] = aws.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    except (ClientError, BotoCoreError) as error:
        rows["IotEndpoint"] = f"(unknown: {error})"
    width = max(map(len, rows))
    for key in sorted(rows):
        print(f"{key:<{width}}  {rows[key]}", file=out)
