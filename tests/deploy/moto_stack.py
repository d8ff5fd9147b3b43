"""The part of the real template moto's CloudFormation can create.

moto skips resource types it does not model (alarms, IoT topic rules, Firehose, Glue, Athena,
Scheduler, bucket policies, autoscaling, SNS subscriptions) and then refuses any template whose
Ref/GetAtt point at one. So the tests deploy the real template minus those resources and, transitively,
minus what refers to them; everything that remains (KMS key, buckets, queues, Kinesis stream, IoT
policy and thing type, roles, ECS cluster, SNS topic, log groups) is created from the generated JSON.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9]+)?\}")


def references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0])
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else (value[0], value[1])
                found |= set(PLACEHOLDER.findall(text)) - set(local)
                found |= references(local)
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def moto_subset(template: dict[str, Any], drop_types: tuple[str, ...] = ()) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from moto.cloudformation.parsing import get_model_map

        supported = set(get_model_map())
    resources = template["Resources"]
    keep = {name for name, r in resources.items() if r["Type"] in supported - set(drop_types)}
    while True:
        dropped = set(resources) - keep
        broken = {name for name in keep if references(resources[name]) & dropped}
        if not broken:
            break
        keep -= broken
    dropped = set(resources) - keep
    kept = {name: resources[name] for name in sorted(keep)}
    used = {r["Condition"] for r in kept.values() if "Condition" in r} | {
        c for c in template.get("Conditions", {}) if f'"Fn::If": ["{c}"' in json.dumps(kept)}
    outputs = {k: v for k, v in template["Outputs"].items() if not references(v) & dropped}
    named = references(kept) | references(outputs)
    return {**template, "Resources": kept, "Outputs": outputs,
            "Parameters": {k: v for k, v in template["Parameters"].items() if k in named},
            "Conditions": {k: v for k, v in template.get("Conditions", {}).items() if k in used}}
