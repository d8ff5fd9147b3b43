"""CloudFormation building blocks: intrinsic functions and least-privilege IAM statements.

Plain dicts in, plain dicts out, so the template stays readable JSON and tests can walk it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]


def ref(name: str) -> Json:
    return {"Ref": name}


def att(resource: str, attribute: str = "Arn") -> Json:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def if_(condition: str, then: Any, otherwise: Any) -> Json:
    return {"Fn::If": [condition, then, otherwise]}


NO_VALUE = ref("AWS::NoValue")


def named(suffix: str) -> Json:
    """A physical name under the stack's name, so two stacks in one account never collide."""
    return sub("${AWS::StackName}-" + suffix)


def arn(service: str, resource: str) -> Json:
    """An ARN in this stack's partition, region and account; `resource` may use ${...} substitutions."""
    return sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


def allow(actions: str | Sequence[str], resources: Any, condition: Json | None = None) -> Json:
    statement: Json = {"Effect": "Allow", "Action": actions if isinstance(actions, str) else list(actions),
                       "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def document(*statements: Json) -> Json:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_role(service: str, policies: dict[str, list[Json]], source_account: bool = True) -> Json:
    """A role only `service` may assume (for this account's resources: confused-deputy guard), with
    one inline policy per purpose."""
    trust: Json = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": document(trust),
        "Policies": [{"PolicyName": name, "PolicyDocument": document(*statements)}
                     for name, statements in policies.items()]}}


def skip_checkov(resource: Json, **reasons: str) -> Json:
    """Records why a checkov check does not apply, in the resource's Metadata (checkov reads it)."""
    skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
    skips.extend({"id": check, "comment": reason} for check, reason in sorted(reasons.items()))
    return resource
