"""msgspec structs generated from the contract: the one generator, for every fast decoder.

Types, enums, numeric ranges, lengths and null versus missing are checked by msgspec's decoder (C);
patterns and the cross-field rules are left to each reader. Two readers need different structs from
the same contract, so what differs is a parameter (`StructRules`), not a second generator:

* the stream's decoder (`schemas.fast_decode`, `EVENTS`) hands the structs on as events that read
  like the reference's dicts: an absent optional field is ``UNSET`` (no key, unlike null), a number
  keeps the type it was sent as (``1`` stays an int), an unknown field sends the record to the
  reference (which keeps it);
* compaction (``batch.compact.fast_decode``) turns them into Arrow columns: an absent field is
  ``None`` (a null, like an explicit null of a nullable field), a number is a float (one column
  type), unknown top-level fields are dropped as the lake has no column for them.

A contract feature the structs cannot express faithfully is refused when they are built, not ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, Union

import msgspec

from schemas.contract import EventContract, Field
from schemas.struct_mapping import EventStruct
from schemas.validation import MAX_ABS_INTEGER

TAG = "schema"  # the field naming the event type: the structs' tag, so a union of them picks by it
_LARGEST_FLOAT = 1.7976931348623157e308


@dataclass(frozen=True)
class StructRules:
    """What a reader needs of the structs beyond the contract."""

    absent: Any  # what an optional field missing from the record reads as: msgspec.UNSET or None
    numbers_as_sent: bool  # a number decodes to int or float as written, else always to a float
    unknown_fields: bool  # unknown top-level fields are dropped, else the record is refused
    base: type[msgspec.Struct] = field(default=msgspec.Struct)


EVENTS = StructRules(absent=msgspec.UNSET, numbers_as_sent=True, unknown_fields=False, base=EventStruct)


def _number_bounds(spec: Field, integral: bool) -> dict[str, Any]:
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    if integral:
        return {"ge": -MAX_ABS_INTEGER if low == -math.inf else max(math.ceil(low), -MAX_ABS_INTEGER),
                "le": MAX_ABS_INTEGER if high == math.inf else min(math.floor(high), MAX_ABS_INTEGER)}
    return {"ge": max(float(low), -_LARGEST_FLOAT), "le": min(float(high), _LARGEST_FLOAT)}


def _value_type(spec: Field, owner: str, rules: StructRules) -> Any:
    if spec.enum is not None:
        if spec.kind != "string" or spec.pattern is not None or spec.max_length is not None:
            raise NotImplementedError(f"{owner}.{spec.name}: an enum with other constraints")
        return Literal.__getitem__(spec.enum)
    if spec.kind == "string":  # patterns are matched by each reader
        return Annotated[str, msgspec.Meta(max_length=spec.max_length)] if spec.max_length is not None else str
    if spec.kind == "integer":
        return Annotated[int, msgspec.Meta(**_number_bounds(spec, integral=True))]
    if spec.kind == "number":
        real = Annotated[float, msgspec.Meta(**_number_bounds(spec, integral=False))]
        if not rules.numbers_as_sent:
            return real
        # bool is neither an int nor a float on the wire.
        return Union[Annotated[int, msgspec.Meta(**_number_bounds(spec, integral=True))], real]  # noqa: UP007
    if spec.kind == "boolean":
        return bool
    if spec.kind == "object":
        if any(f.pattern is not None or f.required_when is not None for f in spec.fields):
            raise NotImplementedError(f"{owner}.{spec.name}: patterns or required_when inside an object")
        return _struct(f"{owner}.{spec.name}", spec.fields, rules)
    raise NotImplementedError(f"{owner}.{spec.name}: kind {spec.kind}")


def _struct(name: str, fields: tuple[Field, ...], rules: StructRules, tag: str | None = None) -> type[msgspec.Struct]:
    """A struct for these fields; with ``tag``, the ``schema`` field is msgspec's tag (its value is
    ``tag``): not a struct field, but a class attribute and a key of the event (`EventStruct`)."""
    options: dict[str, Any] = {"kw_only": True, "gc": False, "frozen": True, "forbid_unknown_fields": True}
    namespace: dict[str, Any] = {"_keys": frozenset(spec.name for spec in fields)}
    if tag is not None:
        options.update(tag_field=TAG, tag=tag, forbid_unknown_fields=not rules.unknown_fields)
        namespace.update(_keys=namespace["_keys"] | {TAG}, _tag_keys=(TAG,), **{TAG: tag})
    required: list[tuple[str, Any]] = []
    optional: list[tuple[str, Any, Any]] = []
    for spec in fields:
        kind = _value_type(spec, name, rules)
        if spec.nullable:
            kind = Union[kind, None]  # noqa: UP007
        if spec.required:
            required.append((spec.name, kind))
        elif rules.absent is msgspec.UNSET:
            optional.append((spec.name, Union[kind, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
        else:
            # msgspec never checks a default: an absent field reads as None, while an explicit null
            # still has to fit `kind` (refused unless nullable).
            optional.append((spec.name, kind, rules.absent))
    return msgspec.defstruct(name, [*required, *optional], bases=(rules.base,), namespace=namespace, **options)


@cache
def struct_for(contract: EventContract, rules: StructRules = EVENTS) -> type[msgspec.Struct]:
    """The contract's struct under ``rules``: one field per contract field but ``schema``, which is the
    tag (one lookup when, as the edge writes them, ``schema`` comes first; msgspec finds it further on
    too), so a decoder for a union of event types picks the type from it."""
    schema = contract.field_named(TAG)
    if schema.enum != (contract.name,) or not schema.required or schema.nullable:
        raise NotImplementedError(f"{contract.name}.{TAG}: not a required one-value enum of the event's name")
    return _struct(contract.name, tuple(f for f in contract.fields if f.name != TAG), rules, tag=contract.name)


def contract_name(struct: type[msgspec.Struct]) -> str:
    """The event type a generated struct decodes (its tag)."""
    return str(struct.__struct_config__.tag)
