"""Columnar decoding of JSON Lines events with the contract's checks, fast path plus reference.

Fast path: msgspec decodes each line of a batch (one C loop) into structs generated from the
contract (types, enums, numeric ranges, lengths, null vs missing); the remaining checks run on
the Arrow columns (identifier and ULID patterns, `schema_version`'s major, `duration_ms` and
`frame_count` required for `track_end`, probabilities summing to 1, finiteness, record size).
Anything the fast path refuses, or any batch it cannot decode, goes line by line to the reference
validator (`schemas.validation.parse_event`, the stream's own): it alone decides what is invalid
and why. So the fast path may only be stricter, never looser: a record it wrongly refuses is
still accepted by the reference, and the reference's reasons are what the quarantine keeps.

(The stream is getting its own msgspec decoder; the two should become one in `schemas/`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal, Union

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batch.lake.tables import lake_schema
from schemas.contract import CONTRACTS, EventContract, Field
from schemas.validation import PROBABILITY_SUM_TOLERANCE, ValidationError, parse_event

INT64 = (-(2**63), 2**63 - 1)
MAX_RECORD_BYTES = 64 * 1024  # the stream's limit (stream.ingest.IngestConfig.max_bytes)


@dataclass(frozen=True)
class Rejected:
    source: str
    line: int
    raw: bytes
    reasons: tuple[str, ...]


@dataclass
class Decoded:
    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    records: int = 0  # non-blank lines seen
    fast: int = 0
    reference: int = 0

    def add(self, name: str, table: pa.Table) -> None:
        if table.num_rows:
            self.tables.setdefault(name, []).append(table)


# ----------------------------------------------------------------- structs from the contract

def _leaf_type(spec: Field) -> Any:
    if spec.kind == "string":
        if spec.enum is not None:
            return Literal[spec.enum]
        return Annotated[str, msgspec.Meta(max_length=spec.max_length)] if spec.max_length else str
    if spec.kind == "boolean":
        return bool
    low = spec.minimum if spec.minimum is not None else None
    high = spec.maximum if spec.maximum is not None else None
    if spec.kind == "integer":
        return Annotated[int, msgspec.Meta(ge=int(low) if low is not None else INT64[0],
                                           le=int(high) if high is not None else INT64[1])]
    return Annotated[float, msgspec.Meta(ge=low, le=high)] if low is not None or high is not None else float


def _struct(name: str, fields: Sequence[Field], top: EventContract | None = None) -> type[msgspec.Struct]:
    members: list[Any] = []
    for spec in fields:
        if top is not None and spec.name == "schema":
            continue  # the union's tag
        kind = _struct(f"{name}_{spec.name}", spec.fields) if spec.kind == "object" else _leaf_type(spec)
        if spec.nullable:
            kind = Union[kind, None]  # noqa: UP007 (a runtime type expression)
        if spec.required:
            members.append((spec.name, kind))
        else:
            # Absent and null differ: only a nullable field may be null. msgspec never checks a
            # default, so an absent field reads as None while an explicit null still has to fit
            # `kind` (refused unless nullable): no UNSET to replace column by column afterwards.
            members.append((spec.name, kind, None))
    members.sort(key=lambda m: len(m) == 3)  # fields with defaults last
    options: dict[str, Any] = {"gc": False}
    if top is None:
        options["forbid_unknown_fields"] = True  # unknown members (e.g. an 8th probability): reference
    else:
        options.update(tag_field="schema", tag=top.name)
    return msgspec.defstruct(name, members, **options)


@cache
def _decoder() -> msgspec.json.Decoder[Any]:
    structs = tuple(_struct(f"Fast_{c.name}", c.fields, top=c) for c in CONTRACTS.values())
    union: Any = Union[structs]  # noqa: UP007
    return msgspec.json.Decoder(union)


# ----------------------------------------------------------------- structs to Arrow columns

def _columns_of(structs: Sequence[Any], cls: type[msgspec.Struct]) -> dict[str, Sequence[Any]]:
    """Struct rows to columns; `map(attrgetter)` keeps the loop in C."""
    return {name: list(map(attrgetter(name), structs)) for name in cls.__struct_fields__}


def _column(values: Sequence[Any], spec: Field, data_type: pa.DataType, cls: Any) -> pa.Array:
    if spec.kind != "object":
        if pa.types.is_timestamp(data_type):
            return pc.multiply(pa.array(values, pa.int64()), 1000).cast(data_type)
        return pa.array(values, data_type)
    nested = _nested_class(cls, spec.name)
    mask = None
    present = values
    if spec.nullable or not spec.required:
        nulls = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        if nulls.any():
            mask = pa.array(nulls)
            filler = _filler(spec, nested)
            present = [filler if v is None else v for v in values]
    columns = _columns_of(present, nested)
    children = [_column(columns[c.name], c, f.type, nested) for c, f in zip(spec.fields, data_type, strict=True)]
    return pa.StructArray.from_arrays(children, fields=list(data_type), mask=mask)


def _nested_class(cls: Any, name: str) -> type[msgspec.Struct]:
    hint = cls.__annotations__[name]
    for candidate in (hint, *getattr(hint, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
    raise TypeError(f"{cls.__name__}.{name} is not a struct")


_ZERO = {"string": "", "integer": 0, "number": 0.0, "boolean": False}


def _filler(spec: Field, cls: Any) -> Any:
    """A stand-in struct for a null object: masked out afterwards, but its children must still fit
    their (non-nullable) Arrow fields, so they get zero values rather than None."""
    values = {}
    for child in spec.fields:
        if child.kind == "object":
            values[child.name] = _filler(child, _nested_class(cls, child.name))
        else:
            values[child.name] = _ZERO[child.kind] if child.required and not child.nullable else None
    return cls(**values)  # no validation on construction


def _to_table(contract: EventContract, structs: list[Any]) -> pa.Table:
    schema = lake_schema(contract)
    cls = type(structs[0])
    columns = _columns_of(structs, cls)
    arrays = [_column(columns[spec.name], spec, schema.field(spec.name).type, cls)
              if spec.name != "schema" else pa.array([contract.name] * len(structs), pa.string())
              for spec in contract.fields]
    return pa.Table.from_arrays(arrays, schema=schema)


# ----------------------------------------------------------------- the checks left to columns

def _leaves(table: pa.Table, fields: Sequence[Field], prefix: tuple[str, ...] = ()) -> list[tuple[Field, pa.Array]]:
    out = []
    for spec in fields:
        path = (*prefix, spec.name)
        column = table.column(path[0]) if len(path) == 1 else pc.struct_field(table.column(path[0]), list(path[1:]))
        if spec.kind == "object":
            out.extend(_leaves(table, spec.fields, path))
        else:
            out.append((spec, column))
    return out


def _suspect_rows(contract: EventContract, table: pa.Table, sizes: np.ndarray) -> np.ndarray:
    """Rows the fast path will not vouch for (the reference validator decides about them)."""
    bad = sizes > MAX_RECORD_BYTES
    for spec, column in _leaves(table, contract.fields):
        if spec.kind == "string" and spec.pattern is not None:
            ok = pc.match_substring_regex(column, spec.pattern)
            bad |= ~pc.fill_null(ok, True).to_numpy(zero_copy_only=False)
        elif spec.kind == "number":
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            bad |= ~np.isfinite(values) & ~np.isnan(values)  # NaN here is a null
            # msgspec reads an integer beyond int64 (`2**64`) into a float field; the reference
            # refuses such an integer, accepts such a float: it decides (`>=`, a float's rounding).
            bad |= np.abs(values) >= 2.0**63
    major = pc.match_substring_regex(table.column("schema_version"), rf"^{contract.major}\.[0-9]+$")
    bad |= ~major.to_numpy(zero_copy_only=False)
    if contract.name == "face_expression":
        ending = pc.equal(table.column("kind"), "track_end").to_numpy(zero_copy_only=False)
        for name in ("duration_ms", "frame_count"):
            bad |= ending & table.column(name).is_null().to_numpy(zero_copy_only=False)
        probabilities = table.column("probabilities")
        total = np.zeros(table.num_rows)
        for child in probabilities.type:
            total += pc.struct_field(probabilities, child.name).to_numpy(zero_copy_only=False)
        bad |= np.abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE
    return bad


# ----------------------------------------------------------------- the whole batch

def _reference(source: str, line: int, raw: bytes, out: Decoded) -> None:
    out.reference += 1
    try:
        event = parse_event(raw, max_bytes=MAX_RECORD_BYTES)
    except ValidationError as error:
        out.rejected.append(Rejected(source, line, raw, tuple(str(p) for p in error.problems)))
        return
    except RecursionError:
        out.rejected.append(Rejected(source, line, raw, ("$: malformed JSON: nested too deeply",)))
        return
    contract = CONTRACTS[event["schema"]]
    try:
        table = pa.Table.from_pylist([lake_row(contract, event)], schema=lake_schema(contract))
    except (pa.ArrowInvalid, OverflowError) as error:  # valid JSON number, too big for the column
        out.rejected.append(Rejected(source, line, raw, (f"$: does not fit the lake's columns: {error}",)))
        return
    out.add(contract.name, table)


def _as_stored(spec: Field, value: Any) -> Any:
    """A JSON integer in a number field as the float the column holds (pyarrow refuses to round
    an int beyond 2**53 into a double; the fast path's msgspec rounds it, so both must)."""
    if spec.kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec.kind == "object" and isinstance(value, dict):
        return {f.name: _as_stored(f, value.get(f.name)) for f in spec.fields}
    return value


def lake_row(contract: EventContract, event: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt
    row = {f.name: _as_stored(f, event.get(f.name)) for f in contract.fields}
    millis: int = event["event_time_ms"]
    row["event_time_ms"] = dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC).replace(
        microsecond=(millis % 1000) * 1000)
    return row


def _decode_structs(lines: list[bytes]) -> list[Any] | None:
    """One struct per line, or None if any line does not decode.

    Line by line (`map` keeps the loop in C), not one array of the joined lines: faster here, and
    a line can only ever become its own record. Joined with commas, a line torn mid-object could
    merge with the next one into a single valid record (`{..,"x":[{}` + `{}]}`), and a line holding
    two documents would keep the count right while shifting every later line.
    """
    try:
        return list(map(_decoder().decode, lines))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def decode_lines(records: Sequence[tuple[str, int, bytes]], out: Decoded | None = None) -> Decoded:
    """Decodes (source, line number, raw bytes) records into per-table Arrow tables and rejects."""
    out = out if out is not None else Decoded()
    records = [r for r in records if r[2] and not r[2].isspace()]
    out.records += len(records)
    pending: list[Sequence[tuple[str, int, bytes]]] = [records]
    kept: list[tuple[str, int, bytes]] = []  # records the fast decoder took, and their structs
    structs: list[Any] = []
    while pending:
        chunk = pending.pop()
        if not chunk:
            continue
        decoded = _decode_structs(list(map(itemgetter(2), chunk)))
        if decoded is not None:
            kept.extend(chunk)
            structs.extend(decoded)
        elif len(chunk) > 32:  # bisect so one bad line costs a few re-decodes, not the batch
            half = len(chunk) // 2
            pending.extend((chunk[half:], chunk[:half]))
        else:
            for record in chunk:
                _decode_one(record, out, kept, structs)
    _check_columns(kept, structs, out)
    return out


def _decode_one(record: tuple[str, int, bytes], out: Decoded, kept: list[tuple[str, int, bytes]],
                structs: list[Any]) -> None:
    try:
        struct = _decoder().decode(record[2])
    except (msgspec.ValidationError, msgspec.DecodeError):
        _reference(*record, out)
        return
    kept.append(record)
    structs.append(struct)


def _select(items: list[Any], rows: np.ndarray) -> list[Any]:
    if len(rows) == len(items):
        return items
    return list(itemgetter(*rows)(items)) if len(rows) > 1 else [items[rows[0]]]


def _check_columns(kept: list[tuple[str, int, bytes]], structs: list[Any], out: Decoded) -> None:
    if not structs:
        return
    kinds = {cls: code for code, cls in enumerate(set(map(type, structs)))}
    codes = np.fromiter(map(kinds.__getitem__, map(type, structs)), dtype=np.int16, count=len(structs))
    for cls, code in kinds.items():
        rows = np.flatnonzero(codes == code)
        if len(rows) == 0:
            continue
        members, records = _select(structs, rows), _select(kept, rows)
        contract = CONTRACTS[cls.__name__[len("Fast_"):]]
        table = _to_table(contract, members)
        sizes = np.fromiter(map(len, map(itemgetter(2), records)), dtype=np.int64, count=len(records))
        bad = _suspect_rows(contract, table, sizes)
        if bad.any():
            table = table.filter(pa.array(~bad))
            for index in np.flatnonzero(bad):
                source, line, raw = records[index]
                _reference(source, line, raw, out)
        out.fast += table.num_rows
        out.add(contract.name, table)
