"""The native fast path: a batch of JSON lines to Arrow columns in C, for the lines it proves valid.

`decode_native(lines)` is a `FastDecoder` (see `batch.compact.fast_decode`): the C validator's
program (`schemas._record`, compiled from the contract by `schemas.native_program`) reads each line
once and writes the values of the records it proves valid straight into column buffers per event
type (`Decoder.columns`, `schemas/_native/columns.c`): no Python object per record or per value.
A file's lines (a `LineBuffer`) are read in place in the file's bytes (`Decoder.columns_in`): no
Python object per line either, but for the lines it leaves.
Here those buffers become tables in the lake's schema, zero-copy (`pa.Array.from_buffers`), the
low-cardinality strings dictionary-encoded (`batch.compact.dictionary.decoded_schema`).

It runs every check the msgspec path runs, in C, from the same program as the stream's validator
(types, enums, bounds, patterns including the ULID and ``schema_version``'s major, ``required_when``,
probabilities summing to 1, finiteness, the record size). What it does not prove valid (escapes,
non-ASCII text, unknown or repeated keys, integers of 19 digits or more, numbers near a limit...)
goes to the msgspec path (`decode_fast`), and what that refuses to the reference validator, which
alone decides. See ``docs/adr/coldec-0001-native-column-decoder.md``.

`decode_columns` is the fast path `decode_lines` uses: this one where the extension is built,
else `decode_fast`. ``DECODE_PATH`` says which.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa

from batch.compact.dictionary import as_decoded, column_flags, decoded_schema
from batch.compact.fast_decode import FastColumns, FastDecoder, decode_fast, instant_micros, unfit_instants
from batch.compact.line_buffer import LineBuffer
from schemas import native_program
from schemas.contract import CONTRACTS, MAX_RECORD_BYTES, EventContract, Field

try:  # built by `pip install -e .` where a compiler exists (optional in pyproject.toml)
    from schemas import _record
except ImportError:  # pragma: no cover - depends on the install
    _record = None  # type: ignore[assignment]

_NAMES = tuple(CONTRACTS)

# validity, values, data (a dictionary-encoded column's: its dictionary's offsets and bytes), nulls
Buffers = tuple[bytearray | None, bytearray | None, bytearray | tuple[bytearray, bytearray] | None, int]
# Per contract, which columns the decoder gives dictionary-encoded (`batch.compact.dictionary`).
_DICTIONARY = tuple(column_flags(CONTRACTS[name]) for name in _NAMES)


@cache
def _decoder() -> Any | None:
    """The C decoder for every event type, or None: not built, or a rule its program cannot carry."""
    if _record is None:
        return None
    try:
        return _record.Decoder(native_program.program(_NAMES), native_program.TAG)
    except (NotImplementedError, ValueError):  # the msgspec path alone then checks everything
        return None


def _array(spec: Field, data_type: pa.DataType, rows: int, columns: Iterator[Buffers]) -> pa.Array:
    """One field's column from its buffers (an object's: its own, then its members', depth first)."""
    validity, values, data, nulls = next(columns)
    mask = None if validity is None else pa.py_buffer(validity)
    if spec.kind == "object":
        members = zip(spec.fields, data_type, strict=True)
        children = [_array(child, field.type, rows, columns) for child, field in members]
        return pa.Array.from_buffers(data_type, rows, [mask], null_count=nulls, children=children)
    if pa.types.is_timestamp(data_type):
        micros = instant_micros(np.frombuffer(values or b"", dtype=np.int64))
        return pa.Array.from_buffers(data_type, rows, [mask, pa.py_buffer(micros)], null_count=nulls)
    if isinstance(data, tuple):  # indices into the batch's distinct values
        offsets, strings = data
        dictionary = pa.Array.from_buffers(pa.string(), len(offsets) // 4 - 1,
                                           [None, pa.py_buffer(offsets), pa.py_buffer(strings)])
        return pa.DictionaryArray.from_buffers(data_type, rows, [mask, pa.py_buffer(values or b"")], dictionary,
                                               null_count=nulls)
    buffers = [mask, pa.py_buffer(values or b"")]
    if spec.kind == "string":
        buffers.append(pa.py_buffer(data or b""))
    if pa.types.is_dictionary(data_type):  # more distinct values in this batch than the decoder keeps
        plain = pa.Array.from_buffers(pa.string(), rows, buffers, null_count=nulls)
        return plain.dictionary_encode()
    return pa.Array.from_buffers(data_type, rows, buffers, null_count=nulls)


def _table(contract: EventContract, rows: int, columns: tuple[Buffers, ...]) -> pa.Table:
    schema = decoded_schema(contract)
    flow = iter(columns)
    arrays = [_array(spec, field.type, rows, flow) for spec, field in zip(contract.fields, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _add(out: FastColumns, name: str, table: pa.Table, rows: np.ndarray) -> None:
    """Rows of one event type into `out`, kept in line order whichever pass found them."""
    table = as_decoded(table, CONTRACTS[name])  # msgspec's path gives plain strings
    if name not in out.tables:
        out.tables[name] = (table, rows)
        return
    before, indices = out.tables[name]
    merged, indices = pa.concat_tables([before, table]), np.concatenate([indices, rows])
    if np.any(indices[1:] < indices[:-1]):
        order = np.argsort(indices, kind="stable")
        merged, indices = merged.take(pa.array(order)), indices[order]
    out.tables[name] = (merged, indices)


def decode_native(lines: Sequence[bytes], then: FastDecoder | None = decode_fast) -> FastColumns:
    """Per event kind, the rows of `lines` the C decoder vouches for, then `then` (msgspec's path) of the
    lines it leaves; the other lines refused. Without the extension, `then` decodes everything."""
    decoder = _decoder()
    if decoder is None:
        return then(lines) if then is not None else FastColumns(refused=list(range(len(lines))))
    out = FastColumns()
    left: list[int] = []
    start = 0
    while start < len(lines):
        batch = lines if start == 0 else lines[start:]
        if isinstance(batch, LineBuffer) and IN_PLACE:  # a file's lines, read in place
            consumed, refused, tables = decoder.columns_in(batch.data, batch.starts, batch.ends, MAX_RECORD_BYTES,
                                                           _DICTIONARY)
        else:
            consumed, refused, tables = decoder.columns(batch, MAX_RECORD_BYTES, _DICTIONARY)
        left.extend(refused if start == 0 else [start + i for i in refused])
        for name, found in zip(_NAMES, tables, strict=True):
            if found is not None:
                rows, index, columns = found
                table, lines_of = _table(CONTRACTS[name], rows, columns), np.frombuffer(index, dtype=np.int64) + start
                unfit = unfit_instants(CONTRACTS[name], table)
                if unfit.any():  # an instant too late for the lake: the reference validator decides
                    left.extend(lines_of[unfit].tolist())
                    table, lines_of = table.filter(pa.array(~unfit)), lines_of[~unfit]
                _add(out, name, table, lines_of)
        start += consumed  # fewer than all only once a table's strings reach 2 GiB
    if left and then is not None:  # escapes, non-ASCII text, unknown keys...: msgspec, then the reference
        rest = then([lines[i] for i in left])
        positions = np.array(left, dtype=np.int64)
        out.refused.extend(positions[rest.refused].tolist())
        for name, (table, rows) in rest.tables.items():
            _add(out, name, table, positions[rows])
        out.tables = {name: out.tables[name] for name in _NAMES if name in out.tables}
    else:
        out.refused.extend(left)
    return out


DECODE_PATH = "native" if _decoder() is not None else "msgspec"
# Whether the built extension reads lines in place (`columns_in`); an older build reads them as bytes.
IN_PLACE = hasattr(_decoder(), "columns_in")
# The fast path `batch.compact.decode.decode_lines` takes by default.
decode_columns: FastDecoder = decode_native if DECODE_PATH == "native" else decode_fast

__all__ = ["DECODE_PATH", "IN_PLACE", "decode_columns", "decode_native"]
