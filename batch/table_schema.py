"""Arrow/Parquet schema and the Glue/Athena column list, both derived from the event contract.

Nested contract objects become Arrow structs (Athena `struct<...>`), so one event has the same
shape in JSON, in Parquet and in SQL: `probabilities.happy` everywhere.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from schemas.contract import EventContract, Field

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
}
_GLUE_TYPES = {"string": "string", "integer": "bigint", "number": "double", "boolean": "boolean"}


def _arrow_type(spec: Field) -> pa.DataType:
    if spec.kind == "object":
        return pa.struct([_arrow_field(f) for f in spec.fields])
    if spec.name == "event_time_ms":
        return pa.timestamp("ms", tz="UTC")
    return _ARROW_TYPES[spec.kind]


def _arrow_field(spec: Field) -> pa.Field:
    always_present = spec.required and not spec.nullable and spec.required_when is None
    return pa.field(spec.name, _arrow_type(spec), nullable=not always_present,
                    metadata={"description": spec.description})


def arrow_schema(contract: EventContract) -> pa.Schema:
    return pa.schema([_arrow_field(f) for f in contract.fields],
                     metadata={"moodlens.schema": contract.name, "moodlens.version": contract.version})


def _glue_type(spec: Field) -> str:
    if spec.kind == "object":
        return "struct<" + ",".join(f"{f.name}:{_glue_type(f)}" for f in spec.fields) + ">"
    if spec.name == "event_time_ms":
        return "timestamp"
    return _GLUE_TYPES[spec.kind]


def glue_columns(contract: EventContract) -> list[dict[str, str]]:
    """The Glue table's StorageDescriptor.Columns (partition keys excluded)."""
    return [{"Name": f.name, "Type": _glue_type(f), "Comment": f.description[:255]} for f in contract.fields]


def to_arrow_table(contract: EventContract, events: list[dict[str, Any]]) -> pa.Table:
    """Validated events to a table; fields from newer minor versions are left out."""
    schema = arrow_schema(contract)
    columns = {name: [event.get(name) for event in events] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)
