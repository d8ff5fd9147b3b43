"""`moodlens edge provision`: one camera's identity in AWS IoT and the settings its edge reads.

Creates (or reuses) the thing `thing_name(site, camera)` of the stack's camera thing type, with the
site and camera as attributes (the stack's IoT policy reads the site from there), a new active
certificate with its private key, the policy attached to the certificate and the certificate to the
thing. Writes into the output folder, refusing to overwrite anything:

* ``certificate.pem``, ``private.key`` (mode 0600), ``AmazonRootCA1.pem``
* ``moodlens.env``: the MOODLENS_* settings of `edge.publish.factory.PublisherSettings` for
  ``--publisher iot`` (endpoint, port, CA, certificate, key, client id = the thing's name)

If a step fails after the certificate exists, the certificate is detached, deactivated and deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from schemas.contract import FACE_EXPRESSION

ROOT_CA = Path(__file__).with_name("data") / "AmazonRootCA1.pem"
FILES = ("certificate.pem", "private.key", "AmazonRootCA1.pem", "moodlens.env")


class ProvisionError(ValueError):
    pass


@dataclass(frozen=True)
class StackNames:
    policy: str
    thing_type: str


def check_ids(site: str, camera: str) -> None:
    for name, value in (("site_id", site), ("camera_id", camera)):
        pattern = FACE_EXPRESSION.field_named(name).pattern
        assert pattern is not None
        if not re.fullmatch(pattern, value):
            raise ProvisionError(f"--{name.removesuffix('_id')} {value!r} is not a valid {name}: the event contract "
                                 f"wants {pattern} (a letter or digit, then up to 63 of letters, digits, _ . : -)")


def thing_name(site: str, camera: str) -> str:
    """IoT thing names allow [a-zA-Z0-9:_-]: ids that differ only in '.' keep distinct names by the hash."""
    readable = re.sub(r"[^A-Za-z0-9:_-]", "_", f"{site}--{camera}")
    digest = hashlib.sha1(f"{site}\x1f{camera}".encode(), usedforsecurity=False).hexdigest()[:8]
    return f"moodlens-{readable}-{digest}"


def stack_names(cfn: Any, stack: str) -> StackNames:
    try:
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
    except ClientError as error:
        raise ProvisionError(f"stack {stack}: {error} (deploy it first: moodlens infra deploy)") from None
    missing = [k for k in ("CameraPolicyName", "CameraThingType") if k not in outputs]
    if missing:
        raise ProvisionError(f"stack {stack} has no output {', '.join(missing)}: is it a moodlens stack?")
    return StackNames(outputs["CameraPolicyName"], outputs["CameraThingType"])


def _ensure_thing(iot: Any, name: str, thing_type: str, site: str, camera: str) -> None:
    attributes = {"site": site, "camera": camera}
    try:
        found = iot.describe_thing(thingName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        iot.create_thing(thingName=name, thingTypeName=thing_type, attributePayload={"attributes": attributes})
        return
    if found.get("attributes") != attributes:
        raise ProvisionError(f"thing {name} exists with attributes {found.get('attributes')}, not {attributes}")


def active_certificates(iot: Any, thing: str) -> list[str]:
    """Ids of the thing's certificates that can still connect as it (none if the thing does not exist)."""
    try:
        principals = iot.list_thing_principals(thingName=thing)["principals"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise ProvisionError(f"thing {thing}: {error}") from None
    ids = [arn.rsplit("/", 1)[1] for arn in principals if ":cert/" in arn]
    return [i for i in ids
            if iot.describe_certificate(certificateId=i)["certificateDescription"]["status"] == "ACTIVE"]


def _write(path: Path, text: str, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)  # never replaces a file
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)  # O_CREAT's mode passes through the umask


def env_file(settings: dict[str, str]) -> str:
    lines = ["# moodlens edge settings (edge/publish/factory.py); load with: set -a; . ./moodlens.env; set +a"]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def provision(iot: Any, cfn: Any, stack: str, site: str, camera: str, out_dir: Path, region: str) -> dict[str, str]:
    """Returns the settings written to moodlens.env."""
    check_ids(site, camera)
    out_dir = out_dir.resolve()
    clashes = [str(out_dir / f) for f in FILES if (out_dir / f).exists()]
    if clashes:
        raise ProvisionError(f"will not overwrite {', '.join(clashes)}: choose another --out")
    names = stack_names(cfn, stack)
    thing = thing_name(site, camera)
    try:
        endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        _ensure_thing(iot, thing, names.thing_type, site, camera)
        created = iot.create_keys_and_certificate(setAsActive=True)
    except (ClientError, BotoCoreError) as error:
        raise ProvisionError(f"provisioning {thing}: {error}") from None
    certificate = created["certificateArn"]
    written: list[Path] = []
    try:
        iot.attach_policy(policyName=names.policy, target=certificate)
        iot.attach_thing_principal(thingName=thing, principal=certificate)
        out_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "MOODLENS_IOT_ENDPOINT": endpoint, "MOODLENS_IOT_PORT": "8883",
            "MOODLENS_IOT_CA": str(out_dir / "AmazonRootCA1.pem"),
            "MOODLENS_IOT_CERT": str(out_dir / "certificate.pem"),
            "MOODLENS_IOT_KEY": str(out_dir / "private.key"),
            "MOODLENS_IOT_CLIENT_ID": thing, "AWS_REGION": region}
        for name, text, mode in (("private.key", created["keyPair"]["PrivateKey"], 0o600),
                                 ("certificate.pem", created["certificatePem"], 0o644),
                                 ("AmazonRootCA1.pem", ROOT_CA.read_text(), 0o644),
                                 ("moodlens.env", env_file(settings), 0o644)):
            _write(out_dir / name, text, mode)
            written.append(out_dir / name)
    except (ClientError, BotoCoreError, OSError) as error:
        for path in written:
            path.unlink()
        _discard(iot, thing, names.policy, certificate, created["certificateId"])
        raise ProvisionError(f"provisioning {thing}: {error}; the new certificate was deleted") from None
    return settings


def _discard(iot: Any, thing: str, policy: str, certificate: str, certificate_id: str) -> None:
    for step in (lambda: iot.detach_thing_principal(thingName=thing, principal=certificate),
                 lambda: iot.detach_policy(policyName=policy, target=certificate),
                 lambda: iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE"),
                 lambda: iot.delete_certificate(certificateId=certificate_id)):
        with contextlib.suppress(ClientError, BotoCoreError):  # not attached yet, or gone: fine
            step()
