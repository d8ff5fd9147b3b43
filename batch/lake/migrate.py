"""Bringing a lake written before its time columns were named for what they hold to today's layout.

The lake's instants are timestamps named without a unit (docs/adr/lake-0002-time-columns.md); a
lake written earlier keeps the contract's names: `event_time_ms` (already a timestamp) in every
event table, and in `sentiment_window` also `window_start_ms` / `window_end_ms` as integers of
epoch milliseconds (a type Iceberg cannot promote to a timestamp).

A table to migrate is rewritten in ONE transaction: the new schema (a renamed column keeps its
field id, so the partition spec `day(event_time)` follows it; a converted column takes the old
one's place), every old file dropped, every row read, converted and appended; the staged
snapshot's row count must equal the rows read before it is committed. Renaming in the metadata
alone would leave the old name in the Parquet files, and a reader that opens the files by column
name (`moodlens sql` on a folder lake, DuckDB or pandas on the files) would read the instant as
NULL. A run that fails or is killed before the commit leaves the old table as it was (the files
it wrote are deleted, or after a kill -9 orphans that `moodlens batch maintain` deletes) and the
next run starts over.

Writers (compaction, `moodlens batch maintain`, the box's sites writer) migrate under the lake's lock
before they write (`batch.lake.tables.ensure_table`, `write_sites`, `batch.lake.maintain`); readers
refuse an old lake with one message naming it, its old columns and the command (`require_current`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import Table
from pyiceberg.types import TimestamptzType

from batch.lake.append import FastAppend
from batch.table_schema import lake_name, renamed_fields
from schemas.contract import CONTRACTS

MIGRATE_COMMAND = "moodlens batch maintain"
_MS_TO_US = 1000
_TIMESTAMP = pa.timestamp("us", tz="UTC")
REWRITE_PART_ROWS = 250_000  # rows written at once when a table is rewritten
READ_FILES_AT_ONCE = 4  # data files read in parallel, then written before the next ones are read


class LakeLayoutError(ValueError):
    """The lake was written before its time columns were renamed: readers cannot use it as it is."""


class MigrationError(RuntimeError):
    """A migration that would not keep every row (nothing was committed)."""


@dataclass(frozen=True)
class Change:
    table: str
    old: str
    new: str
    converted: bool  # integer milliseconds to a timestamp (else a timestamp already: renamed)

    def __str__(self) -> str:
        return f"{self.table}.{self.old} -> {self.new}" + (" (integer ms to timestamp)" if self.converted else "")


def _no_fault(point: str) -> None:
    """Tests replace this to fail at a named point, as a kill would."""


def pending(table: Table, name: str) -> list[Change]:
    """What event table `name` still needs: its columns that carry a contract name the lake renames."""
    contract = CONTRACTS.get(name)
    if contract is None:
        return []
    columns = {f.name: f for f in table.schema().fields}
    changes = []
    for old, spec in renamed_fields(contract).items():
        if old not in columns:
            continue
        new = lake_name(spec)
        if new in columns:
            raise MigrationError(f"{'.'.join(table.name())} has both {old} and {new}: a writer added {new} beside "
                                 f"the old column; nothing was changed, move the table aside and compact again")
        changes.append(Change(name, old, new, converted=not isinstance(columns[old].field_type, TimestamptzType)))
    return changes


def lake_named(table: Table) -> tuple[str, str]:
    """How a message names the lake holding `table`, and the `--lake` argument that opens it."""
    warehouse = table.location().rstrip("/").rsplit("/", 2)[0]
    where = urlparse(warehouse)
    if where.scheme in ("", "file"):
        root = str(Path(where.path).parent)  # an embedded lake's warehouse is <lake>/warehouse
        return f"the lake {root}", root
    return f"the lake {warehouse} (Glue database {table.name()[0]})", warehouse


def require_current(tables: dict[str, Table]) -> None:
    """Refuses (`LakeLayoutError`) a lake whose tables still carry the old time columns, naming the lake,
    each old column and the command that migrates it."""
    changes = [change for name, table in tables.items() for change in pending(table, name)]
    if not changes:
        return
    described, argument = lake_named(tables[changes[0].table])
    raise LakeLayoutError(
        f"{described} was written before its time columns were named for what they hold: "
        + "; ".join(map(str, changes))
        + f". Migrate it once with `{MIGRATE_COMMAND} --lake {argument}` (every table rewritten under the new "
        "names, no row lost; the next `moodlens batch compact` does the same), then run this again")


def migrate_table(table: Table, name: str, fault: Callable[[str], None] = _no_fault) -> list[Change]:
    """Migrates event table `name` (under the lake's lock); returns what it changed (nothing: already current)."""
    changes = pending(table, name)
    if changes:
        _rewrite(table, changes, fault)
    return changes


def migrate_lake(tables: dict[str, Table], fault: Callable[[str], None] = _no_fault) -> list[Change]:
    """Every table of `tables` migrated (see `migrate_table`); what changed, table by table."""
    return [change for name, table in tables.items() for change in migrate_table(table, name, fault)]


def _rewrite(table: Table, changes: list[Change], fault: Callable[[str], None]) -> None:
    """The schema change and every row rewritten, in one transaction, committed only when the staged
    snapshot holds as many rows as were read."""
    snapshot = table.current_snapshot()
    schema = table.schema()
    tx = table.transaction()
    by_old = {change.old: change for change in changes}
    with tx.update_schema(allow_incompatible_changes=True) as update:
        previous: str | None = None  # the column the next one follows (a move names the schema's or an added name)
        for column in schema.fields:
            change = by_old.get(column.name)
            if change is not None and change.converted:  # a new column in the old one's place
                update.add_column(change.new, TimestamptzType(), doc=column.doc, required=column.required)
                update.move_after(change.new, previous) if previous else update.move_first(change.new)
                update.delete_column(change.old)
                previous = change.new
                continue
            if change is not None:
                update.rename_column(change.old, change.new)
            previous = column.name
    if snapshot is None:  # no rows: the schema is all there is
        tx.commit_transaction()
        return
    # The new files are written as compaction writes them (`FastAppend`), against the staged schema.
    staged_table = Table(table.name(), tx.table_metadata, table.metadata_location, table.io, table.catalog)
    files = FastAppend(staged_table)
    read = [0]
    try:
        for part in _parts(_converted(table, changes, read)):  # memory holds one part at a time
            files.write(part)
        tx.delete(AlwaysTrue())
        with tx.update_snapshot(snapshot_properties={"moodlens.migrated": "; ".join(map(str, changes))}
                                ).fast_append() as append:
            for data_file in files.files:
                append.append_data_file(data_file)
        fault(f"rewritten {table.name()[-1]}")
        staged = tx.table_metadata.current_snapshot()
        written = int(staged.summary["total-records"] or -1) if staged and staged.summary else -1
        expected = table.scan().count()
        if not read[0] == written == expected:
            raise MigrationError(f"{'.'.join(table.name())}: {expected} rows in the table, {read[0]} read, "
                                 f"{written} staged; nothing was committed")
        tx.commit_transaction()
    except BaseException:
        files.abort()  # the files of a commit that did not happen (a kill -9 leaves them to maintain's orphans)
        raise


def _parts(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """`tables` gathered into tables of about `REWRITE_PART_ROWS` rows."""
    gathered: list[pa.Table] = []
    for table in tables:
        gathered.append(table)
        if sum(t.num_rows for t in gathered) >= REWRITE_PART_ROWS:
            yield pa.concat_tables(gathered)
            gathered = []
    if gathered:
        yield pa.concat_tables(gathered)


def _batches(table: Table) -> Iterator[pa.RecordBatch]:
    """The table's rows, `READ_FILES_AT_ONCE` data files at a time. (pyiceberg's batch reader submits
    every file of the scan to its thread pool at once and keeps what they read: the whole table.)"""
    scan = table.scan()
    reader = ArrowScan(table.metadata, table.io, scan.projection(), scan.row_filter, scan.case_sensitive)
    tasks = iter(scan.plan_files())
    while group := list(itertools.islice(tasks, READ_FILES_AT_ONCE)):
        yield from reader.to_record_batches(group)


def _converted(table: Table, changes: list[Change], read: list[int]) -> Iterator[pa.Table]:
    """The table's rows under the new names, integer milliseconds as timestamps; every other column as
    it was read (no cast: `FastAppend` writes them in the staged schema)."""
    renames = {change.old: change for change in changes}
    for batch in _batches(table):
        read[0] += batch.num_rows
        fields, columns = [], []
        for field, stored in zip(batch.schema, batch.columns, strict=True):
            change = renames.get(field.name)
            column = stored
            if change is not None and change.converted:
                try:
                    column = pc.multiply_checked(stored.cast(pa.int64()), _MS_TO_US).cast(_TIMESTAMP)
                except pa.ArrowInvalid as error:
                    raise MigrationError(f"{'.'.join(table.name())}.{field.name}: a value is no epoch millisecond "
                                         f"({error}); nothing was committed") from None
            # no field ids: the staged schema's, by name (a converted column has a new one)
            fields.append(pa.field(change.new if change else field.name, column.type, nullable=field.nullable))
            columns.append(column)
        yield pa.Table.from_arrays(columns, schema=pa.schema(fields))
