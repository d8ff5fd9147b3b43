"""Decoding a batch of JSON lines into per-table Arrow rows and rejects: fast path plus reference.

The fast path (`batch.compact.native_decode.decode_columns`: the C column decoder where it is
built, else msgspec's `batch.compact.fast_decode.decode_fast`) turns the lines it can vouch for into
Arrow columns; every line it refuses goes to the reference validator
(`schemas.validation.parse_event`, the stream's own), which alone decides what is invalid and
why. So the fast path may only be stricter, never looser: a record it wrongly refuses is still
accepted by the reference, and the reference's reasons are what the quarantine keeps. Rows keep
their input order whichever path took them, so "the first copy of an event_id wins" means the
first line.

(The stream is getting its own msgspec decoder; the two should become one in `schemas/`.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batch.compact.dictionary import as_decoded
from batch.compact.fast_decode import FastDecoder
from batch.compact.line_buffer import LineBuffer
from batch.compact.native_decode import decode_columns
from batch.compact.sources import Lines
from batch.lake.tables import lake_schema
from batch.table_schema import lake_name
from schemas.contract import CONTRACTS, MAX_RECORD_BYTES, EventContract, Field
from schemas.validation import ValidationError, parse_event

__all__ = ["Decoded", "Lines", "Rejected", "decode_lines", "lake_row"]


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
        """Rows of event type `name`, in `decoded_schema` (low-cardinality strings dictionary-encoded)."""
        if table.num_rows:
            self.tables.setdefault(name, []).append(as_decoded(table, CONTRACTS[name]))


def _as_stored(spec: Field, value: Any) -> Any:
    """A JSON integer in a number field as the float the column holds (pyarrow refuses to round
    an int beyond 2**53 into a double; the fast path's msgspec rounds it, so both must)."""
    if spec.kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec.kind == "object" and isinstance(value, dict):
        return {f.name: _as_stored(f, value.get(f.name)) for f in spec.fields}
    return value


def _instant(name: str, millis: int | None) -> dt.datetime | None:
    if millis is None:
        return None
    try:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
    except OverflowError:
        raise OverflowError(f"{name} {millis} is beyond the years 1-9999 that a timestamp column holds") from None


def lake_row(contract: EventContract, event: dict[str, Any]) -> dict[str, Any]:
    """A validated event as the lake's row: the lake's column names, its instants as datetimes."""
    return {lake_name(f): _instant(f.name, event.get(f.name)) if f.instant else _as_stored(f, event.get(f.name))
            for f in contract.fields}


def _reference(source: str, line: int, raw: bytes, out: Decoded) -> tuple[str, pa.Table] | None:
    """The reference validator's verdict on one line: its row, or None once it is quarantined."""
    out.reference += 1
    try:
        event = parse_event(raw, max_bytes=MAX_RECORD_BYTES)
    except ValidationError as error:
        out.rejected.append(Rejected(source, line, raw, tuple(str(p) for p in error.problems)))
        return None
    except RecursionError:
        out.rejected.append(Rejected(source, line, raw, ("$: malformed JSON: nested too deeply",)))
        return None
    contract = CONTRACTS[event["schema"]]
    try:
        table = pa.Table.from_pylist([lake_row(contract, event)], schema=lake_schema(contract))
    except (pa.ArrowInvalid, OverflowError) as error:  # valid JSON number, too big for the column
        out.rejected.append(Rejected(source, line, raw, (f"$: does not fit the lake's columns: {error}",)))
        return None
    return contract.name, table


def decode_lines(batch: Lines, out: Decoded | None = None, fast: FastDecoder = decode_columns) -> Decoded:
    """Decodes a batch of raw lines into per-table Arrow tables (in input order) and rejects.

    `fast` is the replaceable step (see `batch.compact.fast_decode`): whatever it refuses, the
    reference validator decides.
    """
    out = out if out is not None else Decoded()
    lines, numbers = batch.lines, batch.numbers
    # Empty and whitespace-only lines are no records, filtered out only when there are some: the
    # fast path never bisects over them. A file's lines in place: vectorised over their offsets.
    if isinstance(lines, LineBuffer):
        records = lines.records()
        if records is not None:
            lines, numbers = lines.take(records), [numbers[i] for i in records.tolist()]
    elif not all(lines) or any(map(bytes.isspace, lines)):  # two C loops (`isspace` stops at a `{`)
        kept = [i for i, line in enumerate(lines) if line and not line.isspace()]
        lines, numbers = [lines[i] for i in kept], [numbers[i] for i in kept]
    out.records += len(lines)
    vouched = fast(lines)
    late: dict[str, list[tuple[int, pa.Table]]] = {}  # rows the reference accepted, by line index
    for index in sorted(vouched.refused):
        accepted = _reference(batch.source, numbers[index], lines[index], out)
        if accepted is not None:
            late.setdefault(accepted[0], []).append((index, accepted[1]))
    for name in sorted(set(vouched.tables) | set(late), key=list(CONTRACTS).index):
        table, rows = vouched.tables.get(name, (None, None))
        out.fast += table.num_rows if table is not None else 0
        if name in late:
            table, rows = _in_line_order(CONTRACTS[name], table, rows, late[name])
        out.add(name, table)
    return out


def _in_line_order(contract: EventContract, table: pa.Table | None, rows: np.ndarray | None,
                   late: list[tuple[int, pa.Table]]) -> tuple[pa.Table, np.ndarray]:
    """The fast path's rows and the reference's, merged back into the order of their lines."""
    reference = as_decoded(pa.concat_tables([t for _, t in late]), contract)  # plain strings: cast once
    parts = [reference] if table is None else [as_decoded(table, contract), reference]
    indices = np.array([i for i, _ in late], dtype=np.int64)
    if rows is not None:
        indices = np.concatenate([rows, indices])
    merged = pa.concat_tables(parts)
    order = pc.sort_indices(pa.array(indices))  # stable; line indices are unique anyway
    return merged.take(order), indices[order.to_numpy()]
