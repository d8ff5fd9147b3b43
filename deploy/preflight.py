"""Checks `moodlens infra deploy` makes before it creates anything: region, credentials, parameters.

Each failure raises `PreflightError` (a ValueError: the CLI prints it and exits 2) naming what to fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Every service the stack uses: a region that lacks one cannot host it.
SERVICES = ("cloudformation", "iot", "kinesis", "ecs", "firehose", "s3", "sqs", "sns", "kms", "logs", "cloudwatch",
            "glue", "athena", "scheduler", "application-autoscaling", "events")


class PreflightError(ValueError):
    pass


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PreflightError(f"--param {pair!r}: expected KEY=VALUE")
        if key in params:
            raise PreflightError(f"--param {key} given twice")
        params[key] = value
    return params


def check_region(region: str | None, available: Mapping[str, Iterable[str]]) -> str:
    """`available`: service -> regions botocore knows it in (boto3.Session().get_available_regions)."""
    if not region:
        raise PreflightError("no AWS region: pass --region or set AWS_REGION (or a profile's region)")
    missing = [service for service in SERVICES if region not in set(available.get(service, ()))]
    if len(missing) == len(SERVICES):
        known = sorted({name for regions in available.values() for name in regions})
        close = difflib.get_close_matches(region, known, n=1)
        raise PreflightError(f"region {region} is not supported: botocore knows no region of that name"
                             + (f" (did you mean {close[0]}?)" if close else ""))
    if missing:
        raise PreflightError(f"region {region} is not supported: it lacks {', '.join(missing)}")
    return region


def check_parameters(declared: Mapping[str, Mapping[str, Any]], given: Mapping[str, str],
                     previous: Iterable[str] = ()) -> None:
    """Names, types and constraints of the template's parameters, as CloudFormation would check them
    (after it had started), checked here first. `previous`: parameters the existing stack already has."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise PreflightError(f"unknown parameter {', '.join(unknown)}; "
                             f"the template takes {', '.join(sorted(declared))}")
    kept = set(previous)
    missing = sorted(name for name, spec in declared.items()
                     if "Default" not in spec and name not in given and name not in kept)
    if missing:
        raise PreflightError(f"parameter {', '.join(missing)} is required: "
                             + "; ".join(f"{m}: {declared[m].get('Description', '')}" for m in missing))
    for name, value in given.items():
        problem = _problem(declared[name], value)
        if problem:
            raise PreflightError(f"parameter {name}={value!r}: {problem}")


def _problem(spec: Mapping[str, Any], value: str) -> str | None:
    kind = spec.get("Type", "String")
    allowed: Sequence[str] | None = spec.get("AllowedValues")
    if allowed is not None and value not in allowed:
        return f"must be one of {', '.join(allowed)}"
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return "must be a number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"must be at least {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"must be at most {spec['MaxValue']}"
    if kind.startswith("List<") and not [item for item in value.split(",") if item.strip()]:
        return "must list at least one value, comma-separated"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        return spec.get("ConstraintDescription") or f"must match {pattern}"
    return None


ECR_IMAGE = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                       r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>\S+))?")


def ecr_image(image: str, account: str, region: str) -> dict[str, str] | None:
    """An ECR image as DescribeImages names it (registryId, repositoryName, imageTag or imageDigest), after
    checking the stack's tasks may pull it: their execution role pulls from this account and region's ECR
    only. None for an image of another registry (not looked up)."""
    match = ECR_IMAGE.fullmatch(image)
    if match is None:
        return None
    if (match["account"], match["region"]) != (account, region):
        raise PreflightError(f"parameter ImageUri={image!r}: the tasks pull images from ECR in account {account}, "
                             f"region {region} only: push it to {account}.dkr.ecr.{region}.amazonaws.com/"
                             f"{match['repository']}")
    found = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    return {"registryId": account, "repositoryName": match["repository"], **found}
