"""The fast path: a batch of JSON lines straight to Arrow columns, for the rows it can vouch for.

`decode_fast(lines)` is the one function a faster decoder replaces (a native one generated from
the contract, producing Arrow columns per event kind): it returns, per event kind, a table in the
lake's schema plus the index (into `lines`) of each of its rows, and the indices of the lines it
refuses. It may refuse anything (those lines go to the reference validator, which alone decides
and gives the reasons) but must never accept a line the reference refuses, nor store a value
differently: the property tests in `tests/batch/compact/test_decode.py` hold any implementation
to that.

This one: msgspec decodes each line (one C loop per batch) into structs generated from the
contract by `schemas.structs` (types, enums, numeric ranges, lengths, null vs missing); the structs are transposed
into Arrow columns (numeric columns that cannot be null straight into numpy buffers); the
remaining checks run once per kind on the columns (identifier and ULID patterns,
`schema_version`'s major, `duration_ms` and `frame_count` required for `track_end`,
probabilities summing to 1, finiteness, record size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, Union

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec.structs import astuple

from batch.lake.tables import lake_schema
from batch.table_schema import lake_name
from schemas.contract import CONTRACTS, MAX_RECORD_BYTES, EventContract, Field
from schemas.structs import StructRules, contract_name, struct_for
from schemas.validation import PROBABILITY_SUM_TOLERANCE

BISECT_BELOW = 32  # a failing chunk this small is decoded line by line
# The latest instant the lake (and Python's datetime, the reference path's) holds: 9999-12-31T23:59:59.999Z.
MAX_INSTANT_MS = 253_402_300_799_999
UNFIT_US = -1  # an instant beyond MAX_INSTANT_MS, in place of a value that would overflow (no valid one is -1 us)


def instant_micros(millis: np.ndarray) -> np.ndarray:
    """Epoch milliseconds as the lake's microseconds; one too late for the lake becomes `UNFIT_US`,
    which `unfit_instants` finds so that the row goes to the reference validator."""
    return np.where(millis > MAX_INSTANT_MS, UNFIT_US, millis * 1000)


def unfit_instants(contract: EventContract, table: pa.Table) -> np.ndarray:
    """Rows with an instant `instant_micros` could not hold."""
    bad = np.zeros(table.num_rows, dtype=bool)
    for spec in contract.fields:
        if spec.instant:
            micros = table.column(lake_name(spec)).cast(pa.int64()).fill_null(0).to_numpy()
            bad |= micros == UNFIT_US
    return bad


@dataclass
class FastColumns:
    """What the fast path vouches for: per event kind, its rows and the line index of each row."""

    tables: dict[str, tuple[pa.Table, np.ndarray]] = field(default_factory=dict)
    refused: list[int] = field(default_factory=list)  # line indices left to the reference validator


FastDecoder = Callable[[Sequence[bytes]], FastColumns]  # `decode_fast`'s shape: what a native decoder provides


# ----------------------------------------------------------------- structs from the contract

# Columns, not events: an absent field is a null, a number a float64, extra top-level fields dropped.
COLUMNS = StructRules(absent=None, numbers_as_sent=False, unknown_fields=True)


@cache
def _decoder() -> msgspec.json.Decoder[Any]:
    union: Any = Union[tuple(struct_for(c, COLUMNS) for c in CONTRACTS.values())]  # noqa: UP007
    return msgspec.json.Decoder(union)


def _decode_structs(lines: Sequence[bytes]) -> list[Any] | None:
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


def _decode_or_bisect(lines: Sequence[bytes], refused: list[int]) -> tuple[list[Any], np.ndarray | None]:
    """Structs of the lines that decode and their indices (None: all of them); the rest refused.

    A failing chunk is halved so one bad line costs a few re-decodes, not the batch.
    """
    whole = _decode_structs(lines)
    if whole is not None:
        return whole, None
    structs: list[Any] = []
    kept: list[int] = []
    pending = [(0, len(lines))]
    decode = _decoder().decode
    while pending:
        low, high = pending.pop()
        if low == high:
            continue
        chunk = _decode_structs(lines[low:high])
        if chunk is not None:
            structs.extend(chunk)
            kept.extend(range(low, high))
        elif high - low > BISECT_BELOW:
            middle = (low + high) // 2
            pending.extend(((middle, high), (low, middle)))  # the lower half first: kept stays sorted
        else:
            for index in range(low, high):
                try:
                    structs.append(decode(lines[index]))
                except (msgspec.ValidationError, msgspec.DecodeError):
                    refused.append(index)
                else:
                    kept.append(index)
    return structs, np.array(kept, dtype=np.int64)


# ----------------------------------------------------------------- structs to Arrow columns

_NUMPY = {"integer": np.int64, "number": np.float64, "boolean": np.bool_}


def _column(structs: Sequence[Any], spec: Field, data_type: pa.DataType, cls: Any) -> pa.Array:
    """One field of every struct as an Arrow array (`map(attrgetter)` keeps the loop in C)."""
    values = map(attrgetter(spec.name), structs)
    never_null = spec.required and not spec.nullable
    if spec.kind != "object":
        if pa.types.is_timestamp(data_type):  # milliseconds (msgspec checked the contract's range) to micros
            return pa.array(instant_micros(np.fromiter(values, np.int64, count=len(structs))), data_type)
        if never_null and spec.kind in _NUMPY:  # straight into a buffer, no list of Python objects
            return pa.array(np.fromiter(values, _NUMPY[spec.kind], count=len(structs)), data_type)
        return pa.array(list(values), data_type)
    nested = _nested_class(cls, spec.name)
    present = list(values)
    mask = None
    if not never_null:
        nulls = np.fromiter((v is None for v in present), dtype=bool, count=len(present))
        if nulls.any():
            mask = pa.array(nulls)
            filler = _filler(spec, nested)
            present = [filler if v is None else v for v in present]
    kinds = {c.kind if c.required and not c.nullable else "" for c in spec.fields}
    if len(kinds) == 1 and (kind := kinds.pop()) in ("number", "integer"):  # e.g. probabilities, box
        children = _same_kind_children(present, spec, nested, _NUMPY[kind])
    else:
        children = [_column(present, c, f.type, nested) for c, f in zip(spec.fields, data_type, strict=True)]
    return pa.StructArray.from_arrays(children, fields=list(data_type), mask=mask)


def _same_kind_children(structs: Sequence[Any], spec: Field, cls: Any, dtype: Any) -> list[pa.Array]:
    """Members of one numeric type, never null: every struct's values into one buffer at once
    (`astuple` chained: one C loop, no attribute lookups), then a column per member; half the
    cost of a pass per member. (Measured: the same for members of mixed types, into an object
    array, is slower than a pass per member.)"""
    order = cls.__struct_fields__  # the struct's member order (may differ from the contract's)
    flat = np.fromiter(chain.from_iterable(map(astuple, structs)), dtype, count=len(structs) * len(order))
    grid = flat.reshape(len(structs), len(order))
    return [pa.array(np.ascontiguousarray(grid[:, order.index(child.name)])) for child in spec.fields]


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
    arrays = [_column(structs, spec, field.type, cls)
              if spec.name != "schema" else pa.array([contract.name] * len(structs), pa.string())
              for spec, field in zip(contract.fields, schema, strict=True)]  # the lake's names, in contract order
    return pa.Table.from_arrays(arrays, schema=schema)


# ----------------------------------------------------------------- the checks left to columns

def _leaves(table: pa.Table, fields: Sequence[Field], prefix: tuple[str, ...] = ()) -> list[tuple[Field, pa.Array]]:
    out = []
    for spec in fields:
        path = (*prefix, spec.name)
        top = table.column(lake_name(spec) if not prefix else path[0])
        column = top if len(path) == 1 else pc.struct_field(top, list(path[1:]))
        if spec.kind == "object":
            out.extend(_leaves(table, spec.fields, path))
        else:
            out.append((spec, column))
    return out


def _suspect_rows(contract: EventContract, table: pa.Table, sizes: np.ndarray) -> np.ndarray:
    """Rows the fast path will not vouch for (the reference validator decides about them)."""
    bad = (sizes > MAX_RECORD_BYTES) | unfit_instants(contract, table)
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

def _valid_utf8(lines: Sequence[bytes], refused: list[int]) -> np.ndarray | None:
    """Indices of the lines that are valid UTF-8 (None: all are); the others refused.

    msgspec checks the UTF-8 of every string it keeps, not of the values it skips (an unknown
    member's), which the reference refuses. An ASCII line is valid: one C loop over the batch.
    """
    if all(map(bytes.isascii, lines)):
        return None
    good = []
    for index, line in enumerate(lines):
        try:
            line.isascii() or line.decode("utf-8")
        except UnicodeDecodeError:
            refused.append(index)
        else:
            good.append(index)
    return np.array(good, dtype=np.int64)


def decode_fast(lines: Sequence[bytes]) -> FastColumns:
    """Per event kind, the rows of `lines` the fast path vouches for; the other lines refused."""
    if not isinstance(lines, list | tuple):  # lines still in place (a `LineBuffer`): msgspec wants bytes
        lines = list(lines)
    out = FastColumns()
    given = lines
    candidates = _valid_utf8(lines, out.refused)
    if candidates is not None:
        lines = [lines[i] for i in candidates]
    refused: list[int] = []
    structs, kept = _decode_or_bisect(lines, refused)
    indices = np.arange(len(lines)) if kept is None else kept
    if candidates is not None:  # back to indices into the caller's lines
        indices = candidates[indices]
        refused = candidates[refused].tolist()
    out.refused.extend(refused)
    if not structs:
        return out
    sizes = np.fromiter(map(len, given), dtype=np.int64, count=len(given))[indices]  # indices: into `given`
    kinds = {cls: code for code, cls in enumerate(set(map(type, structs)))}
    codes = np.fromiter(map(kinds.__getitem__, map(type, structs)), dtype=np.int16, count=len(structs)) \
        if len(kinds) > 1 else None
    for cls, code in kinds.items():
        if codes is None:
            members, rows = structs, indices
        else:
            where = np.flatnonzero(codes == code)
            members = list(itemgetter(*where)(structs)) if len(where) > 1 else [structs[where[0]]]
            rows = indices[where]
        contract = CONTRACTS[contract_name(cls)]
        table = _to_table(contract, members)
        bad = _suspect_rows(contract, table, sizes if codes is None else sizes[where])
        if bad.any():
            out.refused.extend(rows[bad].tolist())
            table, rows = table.filter(pa.array(~bad)), rows[~bad]
        if table.num_rows:
            out.tables[contract.name] = (table, rows)
    return out
