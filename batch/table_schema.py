"""Arrow/Parquet schema and the Glue/Athena column list, both derived from the event contract.

Nested contract objects become Arrow structs (Athena `struct<...>`), so one event has the same
shape in JSON, in Parquet and in SQL: `probabilities.happy` everywhere.

Time columns (docs/adr/lake-0002-time-columns.md): on the wire an instant is an integer of epoch
milliseconds named with its unit (`event_time_ms`); in the lake every instant is a timestamp with
time zone named for what it is, without a unit (`event_time`, `window_start`, `window_end`), and a
duration stays an integer named with its unit (`duration_ms`). `lake_name` is that one rule; the
contract's `instant` marker says which fields it applies to.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from schemas.contract import EventContract, Field

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
}
_GLUE_TYPES = {"string": "string", "integer": "bigint", "number": "double", "boolean": "boolean"}


def lake_name(spec: Field) -> str:
    """The lake's column for a contract field: an instant named without its unit (`event_time_ms` is
    `event_time`), every other field under its contract name (`duration_ms` stays, a duration)."""
    return spec.name.removesuffix("_ms") if spec.instant else spec.name


def renamed_fields(contract: EventContract) -> dict[str, Field]:
    """The contract's fields whose lake column has another name, by their contract (wire) name."""
    return {spec.name: spec for spec in contract.fields if lake_name(spec) != spec.name}


def _arrow_type(spec: Field) -> pa.DataType:
    if spec.kind == "object":
        return pa.struct([_arrow_field(f) for f in spec.fields])
    if spec.instant:
        return pa.timestamp("ms", tz="UTC")
    return _ARROW_TYPES[spec.kind]


def _arrow_field(spec: Field) -> pa.Field:
    always_present = spec.required and not spec.nullable and spec.required_when is None
    return pa.field(lake_name(spec), _arrow_type(spec), nullable=not always_present,
                    metadata={"description": spec.description})


def arrow_schema(contract: EventContract) -> pa.Schema:
    return pa.schema([_arrow_field(f) for f in contract.fields],
                     metadata={"moodlens.schema": contract.name, "moodlens.version": contract.version})


def _glue_type(spec: Field) -> str:
    if spec.kind == "object":
        return "struct<" + ",".join(f"{f.name}:{_glue_type(f)}" for f in spec.fields) + ">"
    if spec.instant:
        return "timestamp"
    return _GLUE_TYPES[spec.kind]


def glue_columns(contract: EventContract) -> list[dict[str, str]]:
    """The Glue table's StorageDescriptor.Columns (partition keys excluded)."""
    return [{"Name": lake_name(f), "Type": _glue_type(f), "Comment": f.description[:255]} for f in contract.fields]


def to_arrow_table(contract: EventContract, events: list[dict[str, Any]]) -> pa.Table:
    """Validated events (contract names, instants in epoch ms) to a table in the lake's names; fields
    from newer minor versions are left out."""
    columns = {lake_name(spec): [event.get(spec.name) for event in events] for spec in contract.fields}
    return pa.Table.from_pydict(columns, schema=arrow_schema(contract))
