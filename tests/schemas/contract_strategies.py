"""Hypothesis strategies for events, drawn from the contract itself: valid ones, and valid ones broken.

Valid events follow every rule of `schemas.contract` (ranges, patterns, enums, nullability,
``required_when``, probabilities summing to 1), so a change to the contract changes what is drawn.
Mutations then break them the ways real input breaks: wrong types, bools for numbers, huge
integers, ids with a trailing newline, missing or unknown fields, another major version, repeated
keys, a byte-order mark, malformed JSON.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from hypothesis import strategies as st

from schemas.contract import CONTRACTS, EventContract, Field

INT64 = 2**63 - 1


def full_pattern(pattern: str) -> str:
    return "^(?:" + pattern.removeprefix("^").removesuffix("$") + r")\Z"


def _value(spec: Field) -> st.SearchStrategy[Any]:
    if spec.enum is not None:
        return st.sampled_from(spec.enum)
    if spec.kind == "string":
        if spec.pattern is not None:
            return st.from_regex(full_pattern(spec.pattern), fullmatch=True)
        return st.text(max_size=spec.max_length or 200)
    if spec.kind == "integer":
        low = -INT64 if spec.minimum is None else int(spec.minimum)
        high = INT64 if spec.maximum is None else int(spec.maximum)
        return st.integers(low, high)
    if spec.kind == "number":
        return st.one_of(
            st.integers(-INT64 if spec.minimum is None else int(spec.minimum),
                        INT64 if spec.maximum is None else int(spec.maximum)),
            st.floats(spec.minimum, spec.maximum, allow_nan=False, allow_infinity=False))
    if spec.kind == "boolean":
        return st.booleans()
    if spec.name in ("probabilities", "shares"):
        return _shares(spec)
    return _object(spec.fields)


def _shares(spec: Field) -> st.SearchStrategy[dict[str, float]]:
    """Shares of the expressions: non-negative and summing to 1 (the contract's cross-field rule)."""
    names = [f.name for f in spec.fields]
    weights = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=len(names), max_size=len(names)) \
        .filter(lambda w: sum(w) > 1e-3)
    return weights.map(lambda w: {name: min(1.0, v / sum(w)) for name, v in zip(names, w, strict=True)})


@cache
def _field(spec: Field) -> st.SearchStrategy[Any]:
    value = _value(spec)
    return st.one_of(st.none(), value) if spec.nullable else value


@cache
def _object(fields: tuple[Field, ...]) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.name: _field(f) for f in fields if f.required}
    optional = {f.name: _field(f) for f in fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional).flatmap(lambda d: _fill_conditional(fields, d))


def _fill_conditional(fields: tuple[Field, ...], document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Adds the fields a sibling's value makes required (``required_when``)."""
    missing = {f.name: _field(f) for f in fields if f.required_when and f.name not in document
               and document.get(f.required_when[0]) == f.required_when[1]}
    if not missing:
        return st.just(document)
    return st.fixed_dictionaries(missing).map(lambda extra: {**document, **extra})


@st.composite
def valid_events(draw: st.DrawFn, names: tuple[str, ...] = tuple(CONTRACTS)) -> dict[str, Any]:
    contract: EventContract = CONTRACTS[draw(st.sampled_from(names))]
    event = draw(_object(contract.fields))
    event["schema_version"] = f"{contract.major}.{draw(st.integers(0, 12))}"
    return event


NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 0.5, 1.5, -0.0, 2**63, -(2**63), INT64, 10**400, -(10**400), 1e308, -1e308,
    "", "cafe\n", "cafe", "x" * 65, "x" * 2000, "ALARM", "track_end", "track_update", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "01arz3ndektsv4rrffq69g5fav", "1.0", "2.0", "01.3", "1.0\n", "face_expression", "camera_heartbeat",
    "sentiment_window", "happy", [], [1], {}, {"x": 1},
]


def _paths(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in document.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out.extend(_paths(value, (*prefix, key)))
    return out


def _parent(document: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    target = document
    for key in path[:-1]:
        target = target[key]
    return target


@st.composite
def mutated_records(draw: st.DrawFn, names: tuple[str, ...] = tuple(CONTRACTS)) -> bytes:
    """A valid event with up to three things wrong (or unusual), as the bytes a source delivers."""
    event = draw(valid_events(names))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(event)))
        parent = _parent(event, path)
        action = draw(st.sampled_from(["set", "set", "set", "delete", "unknown"]))
        if action == "set":
            # A copy: NASTY's lists and dicts are shared, and a later mutation may write into this one
            # (even put it inside itself), which would change NASTY for every later example.
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(NASTY)))
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[draw(st.sampled_from(["gaze", "extra", "x_new"]))] = draw(st.sampled_from(NASTY[:12]))
    raw = json.dumps(event, allow_nan=True)
    edit = draw(st.sampled_from(["none", "none", "none", "repeat_key", "bom", "truncate", "nan", "spaces"]))
    if edit == "repeat_key" and event:
        key = draw(st.sampled_from(sorted(event)))
        raw = raw[:-1] + f', {json.dumps(key)}: {json.dumps(draw(st.sampled_from(NASTY[:20])))}' + "}"
    elif edit == "bom":
        return b"\xef\xbb\xbf" + raw.encode()
    elif edit == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif edit == "nan":
        raw = raw.replace("0.5", "NaN", 1).replace("1.0", "Infinity", 1)
    elif edit == "spaces":
        raw = "\n " + raw.replace(": ", ":").replace(", ", ",") + " \t"
    return raw.encode()


def plain(value: Any) -> bool:
    """What the native C code reads itself: strings of printable ASCII without escapes, ints a double
    holds exactly (up to 2^53). Anything else it leaves to the slower paths."""
    if isinstance(value, dict):
        return all(plain(k) and plain(v) for k, v in value.items())
    if isinstance(value, str):
        return all(" " <= c <= "~" and c not in '"\\' for c in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= 2**53
    return True
