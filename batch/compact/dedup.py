"""Exactly once in the lake: one row per event_id, within a run and against what is committed.

Against the table, only the partitions the new rows fall in are read (their `event_id` column,
pruned by pyiceberg to those days and sites), so a late event is checked against its own day;
each file once per run (the snapshot checked against is the one the run commits onto). When
another writer committed in between, the commit fails and `drop_committed_since` checks this
run's files against what that writer added, before the commit is tried again: whatever the
interleaving of two runs, each key lands once.

Within a run, keys are compared by a 64-bit fingerprint first (event ids are ULIDs and quarantine
ids sha256 hex: all of one length, so the fingerprint is a few vectorised multiplies over the
string bytes), kept sorted: a sorted chunk checked against the sorted earlier ones is a merge,
~10x cheaper than hashing the strings again for every chunk. Equal fingerprints are only
candidates: the strings decide, so a fingerprint collision can never drop an event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table

from batch.lake.append import FastAppend, added_since
from batch.lake.filters import both, ge, isin, lt

DAY_US = 86_400_000_000
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constants (golden ratio; murmur3's finaliser)
_FINAL = np.uint64(0xFF51AFD7ED558CCD)


def fingerprints(keys: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """A 64-bit fingerprint of each key, when the keys are non-null strings of one length >= 8
    (else None: callers compare the strings). Reads the string bytes in place, 8 at a time.
    (Keys of another length in another chunk get other fingerprints: the length is mixed in.)"""
    if isinstance(keys, pa.ChunkedArray):
        parts = [fingerprints(chunk) for chunk in keys.chunks if len(chunk)]
        known = [part for part in parts if part is not None]
        return np.concatenate(known) if known and len(known) == len(parts) else None
    array = keys
    count = len(array)
    if count == 0 or array.null_count or not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    _, offsets_buffer, data = array.buffers()
    offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type, count=count + 1, offset=array.offset *
                            np.dtype(offset_type).itemsize)
    width = int(offsets[1] - offsets[0])
    if width < 8 or not np.all(np.diff(offsets) == width):
        return None
    start = int(offsets[0])
    prints = np.full(count, width, dtype=np.uint64)
    for at in sorted({*range(0, width - 7, 8), width - 8}):  # 8-byte words covering every byte
        word = np.ndarray(shape=(count,), dtype="<u8", buffer=data, offset=start + at, strides=(width,))
        prints = (prints ^ word) * _MIX
        prints ^= prints >> np.uint64(29)
    return (prints * _FINAL) ^ (prints >> np.uint64(32))


def _has_twins(ordered: np.ndarray) -> bool:
    return bool(np.any(ordered[1:] == ordered[:-1]))


def _all_distinct(keys: pa.Array | pa.ChunkedArray) -> bool:
    prints = fingerprints(keys)
    if prints is not None and not _has_twins(np.sort(prints)):
        return True  # distinct fingerprints: distinct keys
    return len(pc.unique(keys)) == len(keys)


def first_per_key(table: pa.Table, key: str) -> pa.Table:
    """The first row of each key, in input order."""
    if table.num_rows == 0 or _all_distinct(table.column(key)):
        return table  # no duplicates (the usual case): a sort of integers, no grouping
    indexed = table.select([key]).append_column("__row", pa.array(np.arange(table.num_rows)))
    firsts = indexed.group_by(key, use_threads=False).aggregate([("__row", "min")]).column("__row_min")
    if len(firsts) == table.num_rows:
        return table
    return table.take(np.sort(firsts.to_numpy()))  # the first rows themselves, in input order


class SeenKeys:
    """The keys a run has written so far (table scans see them only after the commit)."""

    def __init__(self) -> None:
        self.keys: list[pa.Array] = []  # chunks, as they came
        self.prints: list[np.ndarray] = []  # per `add`, in key order (to find the strings of a match)
        self.ordered = np.empty(0, dtype=np.uint64)  # every fingerprint so far, sorted
        self.by_string = False  # some keys had no fingerprint: compare strings only

    def add(self, keys: pa.Array | pa.ChunkedArray) -> None:
        self.keys.extend(keys.chunks if isinstance(keys, pa.ChunkedArray) else [keys])
        prints = fingerprints(keys)
        if prints is None:
            self.by_string = True
            return
        self.prints.append(prints)
        # two sorted runs: the stable sort (timsort/radix) merges them in one pass
        self.ordered = np.sort(np.concatenate([self.ordered, np.sort(prints)]), kind="stable")

    def contains(self, keys: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
        """Which of `keys` were added before."""
        prints = fingerprints(keys) if self.keys else None
        if prints is None or self.by_string:
            if not self.keys:
                return pa.array(np.zeros(len(keys), dtype=bool))
            return pc.is_in(keys, value_set=pa.chunked_array(self.keys).combine_chunks())
        ordered = np.sort(prints)  # sorted needles: a sequential walk through the sorted earlier ones
        at = np.minimum(np.searchsorted(self.ordered, ordered), len(self.ordered) - 1)
        hits = self.ordered[at] == ordered
        if not hits.any():
            return pa.array(np.zeros(len(keys), dtype=bool))
        # Candidates only: the earlier keys with one of these fingerprints decide, as strings.
        matched = pa.array(np.unique(ordered[hits]))
        twins = pa.chunked_array(self.keys).combine_chunks().filter(
            pc.is_in(pa.array(np.concatenate(self.prints)), value_set=matched))
        return pc.and_(pc.is_in(pa.array(prints), value_set=matched), pc.is_in(keys, value_set=twins))


def _iso(micros: int) -> str:
    return dt.datetime.fromtimestamp(micros / 1e6, tz=dt.UTC).isoformat()


def touched_partitions(rows: pa.Table, time_column: str) -> BooleanExpression:
    """Whole days from the earliest to the latest row, at the rows' sites (a partition filter)."""
    micros = rows.column(time_column).cast(pa.int64())
    first = pc.min(micros).as_py() // DAY_US * DAY_US
    last = pc.max(micros).as_py() // DAY_US * DAY_US + DAY_US
    sites = pc.unique(rows.column("site_id")).to_pylist()
    return both(isin("site_id", sites), both(ge(time_column, _iso(first)), lt(time_column, _iso(last))))


def _planned(table: Table, key: str, partitions: BooleanExpression | None) -> list[Any]:
    scan = table.scan(row_filter=partitions, selected_fields=(key,)) if partitions is not None \
        else table.scan(selected_fields=(key,))
    return list(scan.plan_files())


def held_keys(table: Table, key: str, partitions: BooleanExpression | None,
              files: dict[str, pa.Array] | None = None) -> pa.Array:
    """The key column of every data file in the given partitions (all files when None).

    Read straight from the planned Parquet files: partition pruning is all we need (extra keys
    from the same partitions are harmless to an anti-join), and skipping pyiceberg's row-level
    residual filter makes a re-run several times faster. `files` keeps each file's keys for the
    next chunk of the run (the table does not change until the run commits).
    """
    tasks = _planned(table, key, partitions)
    if any(task.delete_files for task in tasks):  # row-level deletes: let pyiceberg apply them
        scan = table.scan(row_filter=partitions, selected_fields=(key,)) if partitions is not None \
            else table.scan(selected_fields=(key,))
        return scan.to_arrow().column(key).combine_chunks().cast(pa.string())
    files = files if files is not None else {}
    columns = []
    for task in tasks:
        path = task.file.file_path
        if path not in files:
            with table.io.new_input(path).open() as stream:
                files[path] = pq.read_table(stream, columns=[key]).column(key).combine_chunks().cast(pa.string())
        columns.append(files[path])
    return pa.chunked_array(columns, type=pa.string()).combine_chunks() if columns else pa.array([], pa.string())


def known_keys(keys: pa.Array | pa.ChunkedArray, held: pa.Array) -> np.ndarray:
    """Which of `keys` are in `held`: fingerprints pair each key with a held one, the strings of
    the pair decide; keys whose pair differs (a fingerprint shared by two keys) are looked up by
    string among the held keys with that fingerprint."""
    if len(held) == 0:
        return np.zeros(len(keys), dtype=bool)
    prints, held_prints = fingerprints(keys), fingerprints(held)
    if prints is None or held_prints is None:
        return pc.is_in(keys, value_set=held).to_numpy(zero_copy_only=False)
    held_order = np.argsort(held_prints)
    held_sorted = held_prints[held_order]
    order = np.argsort(prints)  # sorted needles: a sequential walk
    at = np.minimum(np.searchsorted(held_sorted, prints[order]), len(held_sorted) - 1)
    hit = held_sorted[at] == prints[order]
    known = np.zeros(len(prints), dtype=bool)
    if not hit.any():
        return known
    rows, partners = order[hit], held_order[at[hit]]
    array = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    same = pc.equal(array.take(pa.array(rows)), held.take(pa.array(partners))).to_numpy(zero_copy_only=False)
    known[rows[same]] = True
    if not same.all():
        doubtful = rows[~same]
        twins = held.filter(pc.is_in(pa.array(held_prints), value_set=pa.array(prints[doubtful])))
        known[doubtful] = pc.is_in(array.take(pa.array(doubtful)), value_set=twins).to_numpy(zero_copy_only=False)
    return known


def not_in_table(rows: pa.Table, table: Table, key: str, partitions: BooleanExpression | None,
                 files: dict[str, pa.Array] | None = None) -> pa.Table:
    """The rows whose key the table does not hold yet (in the given partitions, or anywhere)."""
    if rows.num_rows == 0 or table.current_snapshot() is None:
        return rows
    held = held_keys(table, key, partitions, files)
    if len(held) == 0:
        return rows
    known = known_keys(rows.column(key), held)
    return rows.filter(pa.array(~known)) if known.any() else rows


def drop_committed_since(files: FastAppend, base_snapshot_id: int | None, key: str) -> int:
    """Drops from a run's written files the rows whose key a snapshot after `base_snapshot_id`
    added (another run's commit); returns how many. `files.table` is the refreshed table."""
    added = added_since(files.table, base_snapshot_id)
    if not added or not files.files:
        return 0
    held_parts = []
    for data_file in added:
        with files.table.io.new_input(data_file.file_path).open() as stream:
            held_parts.append(pq.read_table(stream, columns=[key]).column(key).combine_chunks().cast(pa.string()))
    held = pa.chunked_array(held_parts, type=pa.string()).combine_chunks()
    drops = [known_keys(files.file_column(index, key).cast(pa.string()), held) for index in range(len(files.files))]
    return files.drop_rows(drops)
