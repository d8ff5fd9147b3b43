"""The contract compiled for the C validator (`schemas._record`, source in `schemas/_native/record.c`).

The C code knows no field: it runs a "program" built here from `schemas.contract`, one tuple per
field (name, kind, bounds, enum, pattern, members, required_when, sum rule), so a contract change
changes what it checks, like the JSON Schema files and the msgspec structs. A rule the program
cannot express exactly raises ``NotImplementedError`` here, at import, and the decoder then runs
without the C path instead of checking less.

Patterns become sequences of (character set, min, max) that the C code matches greedily, but only
where greedy matching provably equals the regex (see `compile_pattern`); any other pattern keeps a
Python ``re`` check that the C code calls for that field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from schemas.contract import CONTRACTS, EventContract, Field
from schemas.validation import MAX_ABS_INTEGER, PROBABILITY_SUM_TOLERANCE

KINDS = {"string": 0, "integer": 1, "number": 2, "boolean": 3, "object": 4}
TAG = "schema"  # the field naming the event type; the C code wants it as the record's first key
# A probability sum this close to the tolerance is left to the reference, which sums in JSON order.
SUM_MARGIN = 1e-9
# Unique per event, so the C code does not remember them (it remembers ids that repeat, checked once).
UNIQUE_PER_EVENT = frozenset({"event_id"})

PatternItem = tuple[bytes, int, int]  # (ASCII bitmap of 16 bytes, min, max; max -1: unbounded)
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}|[*+?]")


def _charset(chars: Iterable[str]) -> bytes:
    bits = bytearray(16)
    for char in chars:
        code = ord(char)
        bits[code >> 3] |= 1 << (code & 7)
    return bytes(bits)


def _class(body: str, start: int) -> tuple[set[str], int] | None:
    """``[...]`` at ``start`` (just past ``[``): its characters and the index past ``]``; None when unusual."""
    chars: set[str] = set()
    i = start
    if i < len(body) and body[i] == "^":
        return None  # negated: matches non-ASCII too
    first = True
    while i < len(body):
        char = body[i]
        if char == "]" and not first:
            return chars, i + 1
        if char == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum() or not body[i + 1].isascii():
                return None  # \d, \w, \s...: Unicode classes
            char, i = body[i + 1], i + 1
        elif char == "[":
            return None  # nested sets warn in re and change meaning later
        if i + 2 < len(body) and body[i + 1] == "-" and body[i + 2] != "]":
            high = body[i + 2]
            if high == "\\" or ord(high) < ord(char):
                return None
            chars.update(chr(c) for c in range(ord(char), ord(high) + 1))
            i += 3
        else:
            chars.add(char)
            i += 1
        first = False
    return None


def _items(body: str) -> list[tuple[set[str], int, int]] | None:
    items: list[tuple[set[str], int, int]] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "[":
            found = _class(body, i + 1)
            if found is None:
                return None
            chars, i = found
        elif char == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum() or not body[i + 1].isascii():
                return None
            chars, i = {body[i + 1]}, i + 2
        elif char in "().|^$*+?{}" or not char.isascii() or not char.isprintable():
            return None
        else:
            chars, i = {char}, i + 1
        low, high = 1, 1
        quantifier = _QUANTIFIER.match(body, i)
        if quantifier:
            text = quantifier.group(0)
            if text == "*":
                low, high = 0, -1
            elif text == "+":
                low, high = 1, -1
            elif text == "?":
                low, high = 0, 1
            else:
                first, comma, last = quantifier.group(1, 2, 3)
                if not comma and not first:
                    return None  # "{}" is literal in re
                low = int(first) if first else 0
                high = (int(last) if last else -1) if comma else low
                if high != -1 and high < low:
                    return None
            i = quantifier.end()
            if i < len(body) and body[i] in "?+":
                return None  # lazy or possessive
        if any(not c.isascii() for c in chars):
            return None
        items.append((chars, low, high))
    return items


def compile_pattern(pattern: str) -> tuple[PatternItem, ...] | None:
    """The pattern (matched whole, as ``re.fullmatch`` does) as greedy (set, min, max) items, or None.

    Greedy matching finds the regex's match when, for every item of variable length, its set is
    disjoint from the sets of the items after it up to and including the first one that must match
    at least one character: then the character after its run can belong to no possible match of
    it, so its run is the whole run, and every item's span is forced. Otherwise None.
    """
    body = pattern.removeprefix("^")
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]  # with fullmatch, "$" at the end adds nothing (no final newline gets through)
    items = _items(body)
    if items is None:
        return None
    for index, (chars, low, high) in enumerate(items):
        if low == high:
            continue
        for later, later_low, _ in items[index + 1:]:
            if chars & later:
                return None
            if later_low >= 1:
                break
    return tuple((_charset(chars), low, high) for chars, low, high in items)


def _bounds(spec: Field) -> tuple[int, int, float, float]:
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    for bound in (low, high):
        if isinstance(bound, int) and float(bound) != bound:
            raise NotImplementedError(f"{spec.name}: bound {bound} is no double")
    int_low = -MAX_ABS_INTEGER if low == -math.inf else max(math.ceil(low), -MAX_ABS_INTEGER)
    int_high = MAX_ABS_INTEGER if high == math.inf else min(math.floor(high), MAX_ABS_INTEGER)
    return int_low, int_high, float(low), float(high)


def _pattern_check(pattern: str) -> Any:
    return re.compile(pattern).fullmatch  # exactly the reference's test (schemas.validation._check_value)


def field_program(spec: Field, siblings: tuple[Field, ...], sum_limit: float = -1.0) -> tuple[Any, ...]:
    """One field as the C code reads it (see ``spec_from`` in record.c)."""
    if spec.enum is not None and (spec.kind != "string" or not all(v.isascii() for v in spec.enum)
                                  or spec.pattern is not None or spec.max_length is not None):
        # the C code returns an enum's value once it matches: other rules on it would go unchecked
        raise NotImplementedError(f"{spec.name}: an enum of non-ASCII strings, on a non-string, or with more rules")
    if spec.max_length is not None and spec.kind != "string":
        raise NotImplementedError(f"{spec.name}: max_length on a non-string")
    items = compile_pattern(spec.pattern) if spec.pattern is not None else None
    check = _pattern_check(spec.pattern) if spec.pattern is not None and items is None else None
    members = tuple(field_program(f, spec.fields) for f in spec.fields) if spec.kind == "object" else None
    when_index, when_value = -1, None
    if spec.required_when is not None:
        sibling, when_value = spec.required_when
        names = [f.name for f in siblings]
        if sibling not in names:
            raise NotImplementedError(f"{spec.name}: required_when names no sibling")
        when_index = names.index(sibling)
    int_low, int_high, low, high = _bounds(spec)
    return (spec.name, KINDS[spec.kind], spec.required, spec.nullable, int_low, int_high, low, high, spec.enum,
            items, check, -1 if spec.max_length is None else spec.max_length, members, when_index, when_value,
            sum_limit, spec.name not in UNIQUE_PER_EVENT)


def contract_program(contract: EventContract) -> tuple[Any, ...]:
    """The event type as an object whose name is the tag's value. ``schema_version`` is restricted to
    this reader's major, as the reference's version check does (``int()`` allows leading zeros)."""
    tag = contract.field_named(TAG)
    if tag.enum != (contract.name,) or not tag.required or tag.nullable:
        raise NotImplementedError(f"{contract.name}.{TAG}: not a required one-value enum of the event's name")
    fields = tuple(Field(f.name, f.kind, f.description, pattern=rf"^0*{contract.major}\.[0-9]+$")
                   if f.name == "schema_version" else f for f in contract.fields)
    # The reference's cross-field rule for face_expression (schemas.validation._check_probabilities).
    sums = {"probabilities"} if contract.name == "face_expression" else set()
    limit = PROBABILITY_SUM_TOLERANCE - SUM_MARGIN
    members = tuple(field_program(f, fields, limit if f.name in sums else -1.0) for f in fields)
    top = Field(contract.name, "object", contract.description, fields=fields)
    return (*field_program(top, ())[:12], members, -1, None, -1.0, False)


def program(names: Iterable[str] = tuple(CONTRACTS)) -> tuple[tuple[Any, ...], ...]:
    return tuple(contract_program(CONTRACTS[name]) for name in names)


__all__ = ["TAG", "compile_pattern", "contract_program", "field_program", "program"]
