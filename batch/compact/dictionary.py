"""Which string columns a decoded batch holds dictionary-encoded, and the schema that says so.

Sites, cameras, kinds, expression classes and versions take a handful of values per batch: the
native decoder gives them as int32 indices + the distinct values (`schemas/_native/dictionary.c`),
so the lake's partition split (one Arrow `take`) moves 4 bytes per row instead of the string, and
the Parquet writer writes the dictionary page and the indices as they are (Parquet dictionary-
encodes such columns anyway). Ids that are unique or nearly so (event ids, track ids) and free
text stay plain: a dictionary of them costs time for nothing (measured in
docs/adr/compact-speed-0001-dictionary-strings.md).

Only the in-memory type changes: `dictionary<int32, string>` reads back as `string` (the Iceberg
table's type; the Parquet files carry no Arrow schema), with the same values, counts and bounds.
Every decoded table has `decoded_schema(contract)`, whichever path decoded it (`as_decoded`), so a
run's batches concatenate.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from batch.lake.tables import lake_schema
from schemas.contract import EventContract, Field

# Dotted paths (a struct's member: "model.id") of the string columns to dictionary-encode.
DICTIONARY_COLUMNS = frozenset({
    "schema", "schema_version", "site_id", "camera_id", "zone", "kind", "top_class", "model.id", "model.version",
    "model_version", "edge_version", "rule", "state"})
DICTIONARY_TYPE = pa.dictionary(pa.int32(), pa.string())


def _encoded(field: pa.Field, path: str) -> pa.Field:
    if pa.types.is_struct(field.type):
        return field.with_type(pa.struct([_encoded(member, f"{path}{member.name}.") for member in field.type]))
    if pa.types.is_string(field.type) and path.rstrip(".") in DICTIONARY_COLUMNS:
        return field.with_type(DICTIONARY_TYPE)
    return field


@cache
def decoded_schema(contract: EventContract) -> pa.Schema:
    """`lake_schema(contract)` with the low-cardinality string columns as `dictionary<int32, string>`."""
    schema = lake_schema(contract)
    fields = [_encoded(field, f"{field.name}.") for field in schema]
    return pa.schema(fields, metadata=schema.metadata)


@cache
def column_flags(contract: EventContract) -> bytes:
    """One byte per native column (a contract's fields depth first: an object, then its members):
    1 where the decoder dictionary-encodes it. What `Decoder.columns`' `dictionary` argument takes."""
    flags = bytearray()

    def walk(fields: tuple[Field, ...], prefix: str) -> None:
        for spec in fields:
            flags.append(spec.kind == "string" and f"{prefix}{spec.name}" in DICTIONARY_COLUMNS)
            if spec.kind == "object":
                walk(spec.fields, f"{prefix}{spec.name}.")

    walk(contract.fields, "")
    return bytes(flags)


def as_decoded(table: pa.Table, contract: EventContract) -> pa.Table:
    """`table` (in the lake's schema, or already decoded's) in `decoded_schema(contract)`."""
    schema = decoded_schema(contract)
    return table if table.schema.equals(schema) else table.cast(schema)


__all__ = ["DICTIONARY_COLUMNS", "DICTIONARY_TYPE", "as_decoded", "column_flags", "decoded_schema"]
