"""Decode once, fast: the C validator, then msgspec structs generated from the contract, then the reference.

Where it is built (``pip install -e .``; ``DECODE_PATH`` says which path is active), the C validator
``schemas._record`` (``schemas/_native/``, program compiled from the contract by
`schemas.native_program`) reads each record first: it returns a read-only `Event` mapping equal to
the reference's dict when it proves the record valid, and otherwise hands the record to the msgspec
path below, exactly as if it were not there (see ``docs/adr/native-0001-c-validator.md``). An `Event`
is checked in full when it is parsed, but holds the record and makes a number, a nested object or a
string seen once only when that field is first read: a reader that takes a few fields (the window
engine) never pays for the others.

The fast path is conservative by design: it accepts only records the reference validator
(`schemas.validation`) accepts, and hands everything else to it, so the reasons a record is refused
(field paths, wording) come from one place and never drift. A record takes the slow path when it
is invalid, or when it is valid but unusual in a way the generated structs do not model:

* fields the structs do not know (a newer minor version's additions, extras in nested objects),
  which the reference keeps in its output, as the contract promises;
* a byte-order mark, lone UTF-16 surrogates, integers beyond int64, numbers beyond a double,
  JSON in UTF-16/32: msgspec refuses them and the reference decides;
* probabilities whose sum lands within 1e-9 of the tolerance, where summing in another order
  could change the answer.

Where the checks run: types, enums, ranges and lengths inside msgspec's decoder (C); the event
id's pattern in Python's ``re`` on every record (msgspec's own pattern check cost ~3x more); the
identifier patterns of values that repeat from record to record (site, camera, track, zone, schema
version) in Python, once per distinct combination, remembered in a bounded set;
the cross-field rules (``required_when``, probabilities summing to 1) in Python on the struct.
Accepted records come back as the decoded structs themselves (`schemas.struct_mapping.EventStruct`):
read-only mappings equal to the dicts the reference returns (same keys and values, ints kept as
ints), so no dict is built per record; writers turn them into JSON with ``msgspec.to_builtins``.

The structs are built from `schemas.contract` by `schemas.structs` (rules `EVENTS`), like the JSON
Schema files and the Arrow schema; a contract feature they cannot express faithfully is refused when
they are built, not ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any, Protocol, Union, cast

import msgspec

from schemas import native_program
from schemas.contract import CONTRACTS, EventContract, Field
from schemas.struct_mapping import EventStruct
from schemas.structs import EVENTS, struct_for
from schemas.validation import PROBABILITY_SUM_TOLERANCE, ValidationError, parse_event

try:  # the C validator, built by `pip install -e .` where a compiler exists (optional in pyproject.toml)
    from schemas import _record
except ImportError:  # pragma: no cover - depends on the install
    _record = None  # type: ignore[assignment]
# Which path proves records valid first: "native" (C, schemas/_native/record.c) or "msgspec".
DECODE_PATH = "native" if _record is not None else "msgspec"

# A probability sum this close to the tolerance is left to the reference, which sums in JSON order.
_SUM_MARGIN = 1e-9
# Unique per event, so remembering them would not pay: their pattern is matched on every record.
_UNIQUE_PER_EVENT = frozenset({"event_id"})
# Distinct (site, camera, track, ...) combinations remembered as valid before the memory starts over.
_REMEMBERED = 1 << 16


def full_match(pattern: str) -> str:
    """The contract's pattern as a full match (msgspec searches; ``$`` alone admits a final newline)."""
    body = pattern.removeprefix("^").removesuffix("$")
    return rf"^(?:{body})\Z"


def _envelope_version(contract: EventContract) -> Field:
    """schema_version restricted to this reader's major (leading zeros, like ``int()``, allowed)."""
    return Field("schema_version", "string", "", pattern=rf"^0*{contract.major}\.[0-9]+$")


Check = Callable[[Any], bool]


def _conditions(fields: tuple[Field, ...]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``required_when`` grouped: (sibling, value, the fields that value makes required)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for spec in fields:
        if spec.required_when is not None:
            groups.setdefault(spec.required_when, []).append(spec.name)
    return tuple((sibling, value, tuple(names)) for (sibling, value), names in groups.items())


def cross_field_checks(contract: EventContract) -> Check:
    """The rules msgspec's types do not carry, in one function: False sends the record to the reference.

    * ``required_when``: a field made required by a sibling's value (``duration_ms`` on track_end);
    * probabilities summing to 1 (face_expression, as in the reference);
    * the patterns of values unique per event (the event id), matched on every record;
    * the identifier patterns of values that repeat (ids of sites, cameras, tracks, the version),
      checked once per distinct combination and remembered. Built afresh for each decoder, so what
      one decoder remembers is its own.
    """
    conditions = _conditions(contract.fields)
    sums_to_one = contract.name == "face_expression"
    specs = [_envelope_version(contract)] + [f for f in contract.fields if f.pattern is not None
                                             and f.name not in _UNIQUE_PER_EVENT | {"schema_version"}]
    matchers = tuple(re.compile(full_match(f.pattern or "")).match for f in specs)
    unique = tuple((f.name, re.compile(full_match(f.pattern)).match) for f in contract.fields
                   if f.pattern is not None and f.name in _UNIQUE_PER_EVENT)
    values_of: Callable[[Any], Any] = attrgetter(*(f.name for f in specs))  # a tuple: always two or more
    seen: set[tuple[Any, ...]] = set()
    unset, astuple, limit = msgspec.UNSET, msgspec.structs.astuple, PROBABILITY_SUM_TOLERANCE - _SUM_MARGIN

    def check(event: Any) -> bool:
        for name, match_unique in unique:
            value = getattr(event, name)
            if isinstance(value, str) and match_unique(value) is None:  # None and UNSET: typed by msgspec
                return False
        for sibling, value, names in conditions:
            if getattr(event, sibling) == value and any(getattr(event, name) is unset for name in names):
                return False
        if sums_to_one and not abs(sum(astuple(event.probabilities)) - 1.0) < limit:
            return False
        values = values_of(event)
        if values in seen:
            return True
        for value, match in zip(values, matchers, strict=True):
            if isinstance(value, str) and match(value) is None:  # None and UNSET were typed by msgspec
                return False
        if len(seen) >= _REMEMBERED:
            seen.clear()
        seen.add(values)
        return True

    return check


class _Parse(Protocol):
    def __call__(self, raw: bytes | str | Mapping[str, Any], max_bytes: int | None = None) -> Mapping[str, Any]: ...


class FastDecoder:
    """Decodes and validates records of the given event types; anything else goes to the reference.

    ``parse(raw, max_bytes=None)``: same answers as `schemas.validation.parse_event`: the event (from
    the C validator, an `Event`; from msgspec, an `EventStruct`; both equal to the reference's dict;
    or that dict), or ValidationError with every problem. With the C validator built, ``parse`` is
    its ``validate`` (no Python frame on the hot path), which calls `parse_without_native` for
    whatever it does not prove valid.
    """

    parse: _Parse

    def __init__(self, names: Iterable[str] = tuple(CONTRACTS)) -> None:
        names = tuple(names)
        self._checks: dict[type, Check] = {struct_for(CONTRACTS[name], EVENTS): cross_field_checks(CONTRACTS[name])
                                           for name in names}
        structs = tuple(self._checks)
        kind: Any = Union.__getitem__(structs) if len(structs) > 1 else structs[0]  # a tagged union
        self._decode: Callable[[bytes | str], EventStruct] = msgspec.json.Decoder(kind).decode
        native = _native_decoder(names, self.parse_without_native)
        self._native = native.parse if native is not None else None
        self.parse = native.validate if native is not None else self.parse_without_native

    def fast(self, raw: bytes | str) -> Mapping[str, Any] | None:
        """The event when a fast path proves it valid, else None (which does not mean invalid)."""
        if self._native is not None:
            native = self._native(raw)
            if native is not None:
                return native
        try:
            event = self._decode(raw)
        except msgspec.MsgspecError:
            return None
        return cast(Mapping[str, Any], event) if self._checks[type(event)](event) else None

    def path_of(self, raw: bytes | str) -> str:
        """Which path proves ``raw`` valid: "native" (C), "msgspec", or "reference" (it decides; invalid or unusual)."""
        if self._native is not None and self._native(raw) is not None:
            return "native"
        return "msgspec" if self.fast(raw) is not None else "reference"

    def parse_without_native(self, raw: bytes | str | Mapping[str, Any],
                             max_bytes: int | None = None) -> Mapping[str, Any]:
        """``parse`` by msgspec, then the reference: all of it without the C validator, else what it leaves."""
        if isinstance(raw, bytes):
            size = len(raw)
        elif isinstance(raw, str):
            size = len(raw.encode(errors="surrogatepass"))
        else:
            return parse_event(raw, max_bytes=max_bytes)
        if max_bytes is None or size <= max_bytes:
            try:  # `fast`, inlined: this is the stream's hot path without the C validator
                event = self._decode(raw)
            except msgspec.MsgspecError:
                return parse_event(raw, max_bytes=max_bytes)
            if self._checks[type(event)](event):
                return event  # type: ignore[return-value]  # registered as a Mapping; mypy cannot see it
        return parse_event(raw, max_bytes=max_bytes)


def _native_decoder(names: tuple[str, ...], fallback: _Parse) -> _record.Decoder | None:
    """The C validator for these event types, or None when it is not built or the contract has a rule
    its program cannot express (then the msgspec path alone runs, checking everything)."""
    if _record is None:
        return None
    try:
        return _record.Decoder(native_program.program(names), native_program.TAG, fallback)
    except (NotImplementedError, ValueError):  # a rule it cannot carry; ValueError: one the C code refuses
        return None


_all_events = FastDecoder()


def parse_event_fast(raw: bytes | str | Mapping[str, Any], max_bytes: int | None = None) -> Mapping[str, Any]:
    """`schemas.validation.parse_event`, through the fast path for every event type."""
    return _all_events.parse(raw, max_bytes)


__all__ = ["DECODE_PATH", "FastDecoder", "ValidationError", "cross_field_checks", "full_match", "parse_event_fast"]
