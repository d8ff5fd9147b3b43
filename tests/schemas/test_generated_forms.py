"""The JSON Schema files and the Python types are checked against the one contract."""

from __future__ import annotations

import typing
from typing import Any, NotRequired, get_args, get_origin, get_type_hints

import jsonschema
import pytest

from schemas.contract import CONTRACTS, Field
from schemas.jsonschema_gen import json_schema, render, schema_path
from schemas.types import EVENT_TYPES
from tests.schemas.events import SAMPLES
from tests.schemas.test_validation import INVALID


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_committed_json_schema_matches_contract(name: str) -> None:
    path = schema_path(CONTRACTS[name])
    assert path.read_text() == render(CONTRACTS[name]), f"{path} is stale: run python -m schemas.jsonschema_gen"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_json_schema_accepts_samples(name: str) -> None:
    jsonschema.Draft202012Validator(json_schema(CONTRACTS[name])).validate(SAMPLES[name]())


# JSON Schema cannot say "sums to 1" or "finite"; those two stay with our validator alone.
EXPRESSIBLE = [case for case in INVALID if case[0] not in {"probabilities off", "NaN"}]


@pytest.mark.parametrize(("case", "event", "expected"), EXPRESSIBLE, ids=[c[0] for c in EXPRESSIBLE])
def test_json_schema_rejects_what_the_validator_rejects(case: str, event: dict[str, Any], expected: Any) -> None:
    validator = jsonschema.Draft202012Validator(json_schema(CONTRACTS["face_expression"]))
    assert list(validator.iter_errors(event)), f"JSON Schema accepted {case}"


KINDS = {"string": str, "integer": int, "number": float, "boolean": bool}


def assert_type_matches(spec: Field, hint: Any, where: str) -> None:
    required = spec.required
    if get_origin(hint) is NotRequired:
        required_hint, hint = False, get_args(hint)[0]
    else:
        required_hint = True
    assert required_hint == required, f"{where}: required is {required} in the contract"
    args = get_args(hint)
    nullable_hint = get_origin(hint) in (typing.Union, __import__("types").UnionType) and \
        type(None) in args
    assert nullable_hint == spec.nullable, f"{where}: nullable is {spec.nullable} in the contract"
    base = next(a for a in args if a is not type(None)) if nullable_hint else hint
    if spec.kind == "object":
        assert_fields_match(spec.fields, base, where)
    elif get_origin(base) is typing.Literal:
        assert spec.enum == get_args(base), f"{where}: enum differs"
    else:
        assert base is KINDS[spec.kind], f"{where}: {base} is not {spec.kind}"


def assert_fields_match(fields: tuple[Field, ...], typed_dict: Any, where: str) -> None:
    hints = get_type_hints(typed_dict, include_extras=True)
    assert list(hints) == [f.name for f in fields], f"{where}: fields differ from the contract"
    for spec in fields:
        assert_type_matches(spec, hints[spec.name], f"{where}.{spec.name}")


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_python_types_match_contract(name: str) -> None:
    assert_fields_match(CONTRACTS[name].fields, EVENT_TYPES[name], name)
