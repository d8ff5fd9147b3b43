"""Renders the contract as JSON Schema (draft 2020-12) files kept in `schemas/json/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.contract import CONTRACTS, EventContract, Field

JSON_DIR = Path(__file__).parent / "json"


def _property(spec: Field) -> dict[str, Any]:
    kind: Any = spec.kind
    out: dict[str, Any] = {"description": spec.description}
    if spec.kind == "object":
        out.update(_object(spec.fields))
    if spec.enum is not None:
        out["enum"] = list(spec.enum)
    if spec.pattern is not None:
        out["pattern"] = spec.pattern
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.minimum is not None:
        out["minimum"] = spec.minimum
    if spec.maximum is not None:
        out["maximum"] = spec.maximum
    out["type"] = [kind, "null"] if spec.nullable else kind
    return out


def _object(fields: tuple[Field, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: _property(f) for f in fields},
        "required": [f.name for f in fields if f.required],
    }
    conditional = [f for f in fields if f.required_when]
    if conditional:
        out["allOf"] = [
            {"if": {"properties": {f.required_when[0]: {"const": f.required_when[1]}},
                    "required": [f.required_when[0]]},
             "then": {"required": [f.name]}}
            for f in conditional if f.required_when
        ]
    return out


def json_schema(contract: EventContract) -> dict[str, Any]:
    body = _object(contract.fields)
    # Same major, any minor: a newer minor may add fields, which readers keep.
    body["properties"]["schema_version"]["pattern"] = rf"^{contract.major}\.[0-9]+$"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://moodlens.dev/schemas/{contract.name}.v{contract.major}.schema.json",
        "title": f"{contract.name} v{contract.version}",
        "description": contract.description,
        **body,
        "additionalProperties": True,
    }


def render(contract: EventContract) -> str:
    return json.dumps(json_schema(contract), indent=2, sort_keys=False) + "\n"


def schema_path(contract: EventContract) -> Path:
    return JSON_DIR / f"{contract.name}.v{contract.major}.schema.json"


def write_all() -> list[Path]:
    JSON_DIR.mkdir(exist_ok=True)
    written = []
    for contract in CONTRACTS.values():
        path = schema_path(contract)
        path.write_text(render(contract))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all():
        print(written_path)
