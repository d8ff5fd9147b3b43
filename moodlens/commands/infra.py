"""`moodlens infra ...`: deploy the AWS stack; `moodlens edge provision` (registered into the edge group)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

TEMPLATE = Path("infra/cloudformation/moodlens.json")


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("infra", help="the AWS stack")
    commands = group.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy", help="create or update the CloudFormation stack, wait, print its outputs")
    deploy.add_argument("--stack-name", default="moodlens", help="CloudFormation stack name (default moodlens)")
    deploy.add_argument("--template", type=Path, default=TEMPLATE, help=f"template (default {TEMPLATE})")
    deploy.add_argument("--region", default=None, help="AWS region (default: AWS_REGION or the profile's)")
    deploy.add_argument("--endpoint-url", default=None, help="AWS endpoint (moto, LocalStack); default AWS itself")
    deploy.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="template parameter, repeatable (ImageUri=... is required on the first deploy; VpcId "
                             "and SubnetIds default to the region's default VPC)")
    deploy.add_argument("--template-bucket", default=None,
                        help="bucket for a template over 51,200 bytes, which CloudFormation reads from S3 (default: "
                             "moodlens-templates-ACCOUNT-REGION, created private and encrypted on first use)")
    deploy.set_defaults(handler=deploy_command)

    kcl = commands.add_parser("kcl-daemon", help="KCL mode's container command: run the KCL MultiLangDaemon "
                                                 "(needs amazon-kclpy and Java, as in the container image)")
    kcl.add_argument("--stream", required=True, help="Kinesis stream name")
    kcl.add_argument("--application", required=True, help="KCL application (lease table) name")
    kcl.add_argument("--state", required=True, help="s3://bucket/prefix of the per-site states")
    kcl.add_argument("--region", default=None, help="AWS region (default AWS_REGION)")
    kcl.add_argument("--folder", type=Path, default=Path("/tmp/kcl"),  # nosec B108: the task's own volume
                     help="where the properties file goes (default /tmp/kcl: the task's one writable volume)")
    kcl.add_argument("--worker-args", default="", metavar="'FLAGS'",
                     help="window and alarm flags of `stream kcl-worker` (e.g. '--min-tracks 8'), checked here "
                          "and given to every worker the daemon starts")
    kcl.set_defaults(handler=kcl_daemon_command)


def register_provision(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`moodlens edge provision`, added to the edge group by `moodlens.commands.edge`."""
    provision = commands.add_parser("provision", help="create a camera's IoT thing and certificate; write its settings")
    provision.add_argument("--site", required=True, help="site id (the event contract's site_id)")
    provision.add_argument("--camera", required=True, help="camera id (the event contract's camera_id)")
    provision.add_argument("--out", type=Path, default=None,
                           help="folder for the certificate, key and moodlens.env (default ./edge-<site>-<camera>)")
    provision.add_argument("--stack-name", default="moodlens", help="the deployed stack (default moodlens)")
    provision.add_argument("--region", default=None, help="AWS region (default: AWS_REGION or the profile's)")
    provision.add_argument("--endpoint-url", default=None, help="AWS endpoint (moto); default AWS itself")
    provision.set_defaults(handler=provision_command)


def deploy_command(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from deploy.deployer import DeployRequest, deploy
    from deploy.preflight import parse_params

    request = DeployRequest(template=args.template, stack_name=args.stack_name, region=args.region,
                            endpoint_url=args.endpoint_url, params=parse_params(args.param),
                            template_bucket=args.template_bucket)
    try:
        return deploy(request, sys.stdout)
    except (ClientError, BotoCoreError) as error:  # e.g. a permission the deploying principal lacks
        raise ValueError(f"infra deploy stopped: {error}") from None


def kcl_daemon_command(args: argparse.Namespace) -> int:
    import os

    from deploy.kcl import run_daemon

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ValueError("no AWS region: pass --region or set AWS_REGION")
    worker_args = shlex.split(args.worker_args)
    _check_worker_args(args.state, worker_args)
    run_daemon(args.stream, args.application, args.state, region, args.folder, worker_args=worker_args)
    return 0  # not reached: the daemon replaced this process


def _check_worker_args(state: str, worker_args: list[str]) -> None:
    """A bad flag, or a bad MOODLENS_SITE_NAMES in the task's environment (which every worker reads), fails
    here, once and clearly, not in every worker the daemon would start."""
    from moodlens.commands.stream_host import add_arguments, host_config, outlets

    parser = argparse.ArgumentParser(prog="moodlens infra kcl-daemon --worker-args", add_help=False,
                                     exit_on_error=False)
    add_arguments(parser)
    try:
        parsed = parser.parse_args(["--state", state, *worker_args])
        host_config(parsed)
        outlets(parsed)
    except argparse.ArgumentError as error:
        raise ValueError(f"--worker-args: {error}") from None
    except SystemExit:  # argparse exits for an unknown flag even with exit_on_error=False
        raise ValueError(f"--worker-args {shlex.join(worker_args)!r}: not flags of `stream kcl-worker`") from None


def provision_command(args: argparse.Namespace) -> int:
    from deploy.deployer import Aws, check_credentials
    from deploy.preflight import PreflightError
    from deploy.provision import active_certificates, check_ids, provision, thing_name

    check_ids(args.site, args.camera)  # before any AWS call
    aws = Aws(args.region, args.endpoint_url)
    if not aws.region:
        raise PreflightError("no AWS region: pass --region or set AWS_REGION (or a profile's region)")
    check_credentials(aws)
    out = args.out or Path(f"edge-{args.site}-{args.camera}")
    earlier = active_certificates(aws.client("iot"), thing_name(args.site, args.camera))
    settings = provision(aws.client("iot"), aws.client("cloudformation"), args.stack_name, args.site, args.camera,
                         out, aws.region)
    print(f"thing {settings['MOODLENS_IOT_CLIENT_ID']} provisioned; settings in {out / 'moodlens.env'}")
    print(f"run: set -a; . {out / 'moodlens.env'}; set +a; moodlens edge run --publisher iot --site {args.site} "
          f"--camera {args.camera} --source 0")
    for certificate in earlier:  # a replaced box's or a lost folder's: it still connects as this camera
        print(f"certificate {certificate} of an earlier provision is still active: once the new one works, revoke "
              f"it: aws iot update-certificate --certificate-id {certificate} --new-status REVOKED")
    return 0
