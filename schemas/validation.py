"""Validates events against the contract, listing every problem with its field path and reason."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from schemas.contract import CONTRACTS, IDENTIFIER, MAX_RECORD_BYTES, EventContract, Field

# Probabilities come from a softmax rounded for the wire; anything further from 1 is a bug.
PROBABILITY_SUM_TOLERANCE = 0.01
# Integers the lake can store (int64) and a float can approximate; beyond them a number is a bug or an
# attack (``1`` followed by 400 zeros), never a measurement, and math on it overflows.
MAX_ABS_INTEGER = 2**63 - 1
# A JSON escape of a UTF-16 surrogate half: only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_BOM = b"\xef\xbb\xbf"
# Events nest 2 levels deep; far deeper documents are attacks that writers downstream (json.dumps of a
# late event) could fail on with RecursionError, so they stop here.
MAX_DEPTH = 32


class Code(StrEnum):
    """Why a record is refused, as a label to count and alert on; the message says it to a person."""

    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"  # not UTF-8, a byte-order mark, a lone UTF-16 surrogate
    MALFORMED_JSON = "malformed_json"  # not JSON, or JSON that is not an object
    UNKNOWN_SCHEMA = "unknown_schema"
    UNSUPPORTED_MAJOR_VERSION = "unsupported_major_version"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    code: str = Code.INVALID_FIELD  # what most checks of a value find; readers may add codes of their own

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ValidationError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_value(spec: Field, value: Any, path: str, problems: list[Problem]) -> None:
    if value is None:
        if not spec.nullable:
            problems.append(Problem(path, "must not be null"))
        return
    if spec.kind == "string":
        if not isinstance(value, str):
            problems.append(Problem(path, f"must be a string, got {type(value).__name__}"))
            return
        if spec.enum is not None and value not in spec.enum:
            problems.append(Problem(path, f"must be one of {', '.join(spec.enum)}; got {value!r}"))
        # fullmatch: the contract's patterns end in ``$``, which re.match lets through before a final newline.
        if spec.pattern is not None and not _compiled(spec.pattern).fullmatch(value):
            problems.append(Problem(path, f"{value[:80]!r} does not match {spec.pattern}"))
        if spec.max_length is not None and len(value) > spec.max_length:
            problems.append(Problem(path, f"longer than {spec.max_length} characters"))
    elif spec.kind in ("integer", "number"):
        # bool is an int in Python but never a number on the wire.
        numeric = (int,) if spec.kind == "integer" else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            problems.append(Problem(path, f"must be {'an integer' if spec.kind == 'integer' else 'a number'}, "
                                          f"got {type(value).__name__}"))
            return
        if isinstance(value, int):
            if not -MAX_ABS_INTEGER <= value <= MAX_ABS_INTEGER:
                # math.isfinite(value) would raise OverflowError here, and str(value) may be huge.
                problems.append(Problem(path, f"integer out of range ({value.bit_length()} bits; "
                                              f"at most 63 bits, |value| <= {MAX_ABS_INTEGER})"))
                return
        elif not math.isfinite(value):
            problems.append(Problem(path, f"must be finite, got {value}"))
            return
        if spec.minimum is not None and value < spec.minimum:
            problems.append(Problem(path, f"{value} is below the minimum {spec.minimum:g}"))
        if spec.maximum is not None and value > spec.maximum:
            problems.append(Problem(path, f"{value} is above the maximum {spec.maximum:g}"))
    elif spec.kind == "boolean":
        if not isinstance(value, bool):
            problems.append(Problem(path, f"must be true or false, got {type(value).__name__}"))
    elif spec.kind == "object":
        if not isinstance(value, Mapping):
            problems.append(Problem(path, f"must be an object, got {type(value).__name__}"))
            return
        _check_fields(spec.fields, value, path + ".", problems)


def _check_fields(fields: tuple[Field, ...], document: Mapping[str, Any], prefix: str,
                  problems: list[Problem]) -> None:
    for spec in fields:
        path = prefix + spec.name
        if spec.name not in document:
            condition = spec.required_when
            if spec.required or (condition and document.get(condition[0]) == condition[1]):
                why = f" when {condition[0]} is {condition[1]}" if condition and not spec.required else ""
                problems.append(Problem(path, f"is required{why}", Code.MISSING_FIELD))
            continue
        _check_value(spec, document[spec.name], path, problems)


def _check_probabilities(document: Mapping[str, Any], problems: list[Problem]) -> None:
    probabilities = document.get("probabilities")
    if not isinstance(probabilities, Mapping):
        return
    values = list(probabilities.values())
    if values and all((isinstance(v, float) and math.isfinite(v))
                      or (isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_ABS_INTEGER)
                      for v in values):
        total = sum(values)
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            problems.append(Problem("probabilities", f"must sum to 1, sum to {total:.4f}"))


def contract_of(document: Mapping[str, Any]) -> tuple[EventContract | None, list[Problem]]:
    """Finds the contract a document claims, or the problems that stop us from knowing it."""
    name, version = document.get("schema"), document.get("schema_version")
    if not isinstance(name, str) or name not in CONTRACTS:
        known = ", ".join(sorted(CONTRACTS))
        return None, [Problem("schema", f"unknown event schema {name!r}; expected one of {known}",
                              Code.UNKNOWN_SCHEMA)]
    contract = CONTRACTS[name]
    if not isinstance(version, str) or not re.fullmatch(r"[0-9]+\.[0-9]+", version):
        return None, [Problem("schema_version", f"must be MAJOR.MINOR, got {version!r}")]
    major = int(version.split(".")[0])
    if major != contract.major:
        return None, [Problem("schema_version", f"unsupported major version {major} of {name}; "
                                                f"this reader understands {contract.major}.x",
                              Code.UNSUPPORTED_MAJOR_VERSION)]
    return contract, []


def validate_event(document: Any) -> list[Problem]:
    """Every problem with `document`; an empty list means valid. Unknown fields are allowed."""
    if not isinstance(document, Mapping):
        return [Problem("$", f"event must be a JSON object, got {type(document).__name__}", Code.MALFORMED_JSON)]
    contract, problems = contract_of(document)
    if contract is None:
        return problems
    _check_fields(contract.fields, document, "", problems)
    if contract.name == "face_expression":
        _check_probabilities(document, problems)
    return problems


class NotUtf8Error(ValueError):
    """Text that is not plain UTF-8: a byte-order mark, a lone UTF-16 surrogate."""


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not valid JSON")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):  # 1e999: valid JSON text, but no float holds it (Python would say inf)
        raise ValueError(f"number {token[:40]} is out of range for a 64-bit float")
    return value


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value``, counted up to ``limit + 1`` at most."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


def _lone_surrogate_path(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a lone UTF-16 surrogate, else None."""
    if isinstance(value, str):
        return path if _LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = key if path == "$" else f"{path}.{key}"
            if _LONE_SURROGATE.search(key):
                return where.encode("utf-8", "backslashreplace").decode()
            found = _lone_surrogate_path(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def decode_json(raw: bytes | str) -> Any:
    """Strict JSON in UTF-8: NaN and Infinity, which Python's json would let through, are errors, and so
    are a byte-order mark, other encodings (Python's json would guess UTF-16/32 from bytes) and lone
    UTF-16 surrogates (``"\\ud800"``: not a character; no UTF-8 writer downstream can encode it)."""
    if isinstance(raw, bytes):
        if raw.startswith(_BOM):
            raise NotUtf8Error("starts with a byte-order mark (U+FEFF); records are UTF-8 without one")
        text = raw.decode("utf-8")  # strict: invalid UTF-8 (and encoded surrogates) raise here
        escapes = _SURROGATE_ESCAPE.search(raw) is not None
    else:
        if raw.startswith("\ufeff"):
            raise NotUtf8Error("starts with a byte-order mark (U+FEFF); records are UTF-8 without one")
        text = raw
        escapes = (_LONE_SURROGATE.search(raw) is not None
                   or _SURROGATE_ESCAPE.search(raw.encode("utf-8", "surrogatepass")) is not None)
    document = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(document, MAX_DEPTH) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if escapes:  # rare: only then walk the document (a valid pair decodes to one character, not flagged)
        where = _lone_surrogate_path(document, "$")
        if where is not None:
            raise NotUtf8Error(f"lone UTF-16 surrogate in {where} (not a character)")
    return document


def size_problem(size: int, max_bytes: int | None = MAX_RECORD_BYTES) -> Problem | None:
    """Why a record of ``size`` bytes is refused (over ``max_bytes``; None: no limit), else None."""
    if max_bytes is not None and size > max_bytes:
        return Problem("$", f"record is {size} bytes, over the limit of {max_bytes}", Code.TOO_LARGE)
    return None


def parse_event(raw: bytes | str | Mapping[str, Any], max_bytes: int | None = None) -> dict[str, Any]:
    """Decodes and validates one event; raises ValidationError listing every problem."""
    if isinstance(raw, (bytes, str)):
        too_large = size_problem(len(raw.encode() if isinstance(raw, str) else raw), max_bytes)
        if too_large is not None:
            raise ValidationError([too_large])
        try:
            document = decode_json(raw)
        except RecursionError:
            raise ValidationError([Problem("$", "malformed JSON: nested too deeply", Code.MALFORMED_JSON)]) from None
        except (NotUtf8Error, UnicodeDecodeError) as error:
            raise ValidationError([Problem("$", f"malformed JSON: {str(error)[:300]}", Code.BAD_ENCODING)]) from None
        except ValueError as error:
            raise ValidationError([Problem("$", f"malformed JSON: {str(error)[:300]}", Code.MALFORMED_JSON)]) from None
    else:
        document = raw
    problems = validate_event(document)
    if problems:
        raise ValidationError(problems)
    return dict(document)


def identifier_problem(value: object) -> str | None:
    """Why ``value`` is not a valid site, camera or zone id (the contract's IDENTIFIER), else None."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if _compiled(IDENTIFIER).fullmatch(value) is None:
        return (f"{value[:80]!r} is not an id: 1 to 64 characters, letters, digits and _ . : -, "
                f"starting with a letter or digit ({IDENTIFIER})")
    return None


def require_identifiers(**ids: object) -> None:
    """Raises ValueError naming every argument that is not a valid id; call it before an id becomes
    part of a path, a topic or an event (``--site ../../escape`` must never reach the file system)."""
    problems = [f"{name}: {why}" for name, value in ids.items() if (why := identifier_problem(value))]
    if problems:
        raise ValueError("invalid id: " + "; ".join(problems))
