"""Exactly once in the lake: one row per event_id, within a run and against what is committed.

Against the table, only the partitions the new rows fall in are read (their `event_id` column,
pruned by pyiceberg to those days and sites), so a late event is checked against its own day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table

from batch.lake.filters import both, ge, isin, lt

DAY_US = 86_400_000_000


def first_per_key(table: pa.Table, key: str) -> pa.Table:
    """The first row of each key, in input order."""
    if table.num_rows == 0 or len(pc.unique(table.column(key))) == table.num_rows:
        return table  # no duplicates (the usual case): a hash pass, no grouping and sorting
    indexed = table.select([key]).append_column("__row", pa.array(np.arange(table.num_rows)))
    firsts = indexed.group_by(key, use_threads=False).aggregate([("__row", "min")]).column("__row_min")
    if len(firsts) == table.num_rows:
        return table
    return table.take(pc.sort_indices(firsts))


def _iso(micros: int) -> str:
    return dt.datetime.fromtimestamp(micros / 1e6, tz=dt.UTC).isoformat()


def touched_partitions(rows: pa.Table, time_column: str) -> BooleanExpression:
    """Whole days from the earliest to the latest row, at the rows' sites (a partition filter)."""
    micros = rows.column(time_column).cast(pa.int64())
    first = pc.min(micros).as_py() // DAY_US * DAY_US
    last = pc.max(micros).as_py() // DAY_US * DAY_US + DAY_US
    sites = pc.unique(rows.column("site_id")).to_pylist()
    return both(isin("site_id", sites), both(ge(time_column, _iso(first)), lt(time_column, _iso(last))))


def held_keys(table: Table, key: str, partitions: BooleanExpression | None) -> pa.Array:
    """The key column of every data file in the given partitions (all files when None).

    Read straight from the planned Parquet files: partition pruning is all we need (extra keys
    from the same partitions are harmless to an anti-join), and skipping pyiceberg's row-level
    residual filter makes a re-run several times faster.
    """
    scan = table.scan(row_filter=partitions, selected_fields=(key,)) if partitions is not None \
        else table.scan(selected_fields=(key,))
    tasks = list(scan.plan_files())
    if any(task.delete_files for task in tasks):  # row-level deletes: let pyiceberg apply them
        return scan.to_arrow().column(key).combine_chunks()
    columns = []
    for task in tasks:
        with table.io.new_input(task.file.file_path).open() as stream:
            columns.append(pq.read_table(stream, columns=[key]).column(key))
    return pa.chunked_array(columns, type=pa.string()).combine_chunks() if columns else pa.array([], pa.string())


def not_in_table(rows: pa.Table, table: Table, key: str, partitions: BooleanExpression | None) -> pa.Table:
    """The rows whose key the table does not hold yet (in the given partitions, or anywhere)."""
    if rows.num_rows == 0 or table.current_snapshot() is None:
        return rows
    held = held_keys(table, key, partitions)
    if len(held) == 0:
        return rows
    return rows.filter(pc.invert(pc.is_in(rows.column(key), value_set=held)))
