"""One compaction run: read every source, decode and check, drop duplicates, commit.

Memory stays bounded: decoded rows are deduplicated and written as Parquet files every
`flush_rows` rows; each table's files are added in one snapshot, committed once at the end
(`batch.lake.append.FastAppend`), so readers see a run's rows appear together or not at all.

Commit order and crashes: pyiceberg commits one table at a time (there is no multi-table
transaction in Iceberg's REST/SQL/Glue catalogs as pyiceberg 0.12 uses them), so a run commits
exactly one snapshot per table it has rows for, in a fixed order: face_expression,
camera_heartbeat, sentiment_window, sentiment_alarm, then quarantine. Each commit is atomic:
readers see a table before or after it, never half. A crash between two commits leaves the
earlier tables committed and the later ones at their previous snapshot; the next run over the
same input finds the committed rows by event_id (and quarantined ones by their hash), skips them
and commits the rest. So the lake converges to exactly what one uninterrupted run gives.
A run that fails (an exception: a full disk, bad permissions, Ctrl-C) deletes the data files
it has not committed; files of a run killed outright are orphans no snapshot names, which
`maintain` deletes.

Two runs at once: each commit goes onto the snapshot its rows were deduplicated against; when
another run committed in between, the commit fails, the rows that run added are dropped from
this run's files, and the commit is tried again (`batch.compact.dedup.drop_committed_since`).
So any interleaving yields each event once; the lake lock (`batch.lake.lock`) makes runs take
turns as well, so this is the rare path.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

from batch.compact.decode import Decoded, Rejected, decode_lines
from batch.compact.dedup import SeenKeys, drop_committed_since, first_per_key, not_in_table, touched_partitions
from batch.compact.memory import big_blocks_reused
from batch.compact.sources import Source, SourceError
from batch.lake.append import FastAppend, added_since
from batch.lake.migrate import Change, migrate_lake
from batch.lake.tables import (
    EVENT_TABLES,
    QUARANTINE,
    QUARANTINE_SCHEMA,
    TIME_COLUMN,
    ensure_tables,
    existing_tables,
)

MAX_RAW_KEPT = 64 * 1024
FLUSH_ROWS = 250_000  # decoded rows held before they are deduplicated and written (memory bound)


def _no_fault(point: str) -> None:
    return None


@dataclass
class CompactionResult:
    records: int = 0  # non-blank input lines
    written: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    outside_window: int = 0
    quarantined: int = 0
    errors: list[SourceError] = field(default_factory=list)
    fast: int = 0
    reference: int = 0
    seconds: float = 0.0
    migrated: list[Change] = field(default_factory=list)  # an older lake's time columns, before writing

    @property
    def needs_attention(self) -> bool:
        """Unreadable input: someone must look (exit non-zero). Quarantined records are kept."""
        return bool(self.errors)


def _micros(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000)


def _within(rows: pa.Table, since: dt.datetime | None, until: dt.datetime | None) -> pa.Table:
    if since is None and until is None:
        return rows
    micros = rows.column(TIME_COLUMN).cast(pa.int64())
    low = pc.greater_equal(micros, _micros(since)) if since is not None else None
    high = pc.less(micros, _micros(until)) if until is not None else None
    keep = high if low is None else (low if high is None else pc.and_(low, high))
    return rows if pc.all(keep).as_py() else rows.filter(keep)  # (filtering copies every column)


def quarantine_rows(rejected: list[Rejected], now: dt.datetime) -> pa.Table:
    """Invalid records with their reasons; `record_id` (hash of the bytes) makes them idempotent."""
    import json
    rows = []
    for r in rejected:
        schema = site = None
        try:
            document = json.loads(r.raw)
            if isinstance(document, dict):
                schema = document.get("schema") if isinstance(document.get("schema"), str) else None
                site = document.get("site_id") if isinstance(document.get("site_id"), str) else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
        rows.append({"record_id": hashlib.sha256(r.raw).hexdigest(), "source": r.source, "line": r.line,
                     "reasons": list(r.reasons), "raw": r.raw[:MAX_RAW_KEPT].decode("utf-8", "replace"),
                     "schema": schema, "site_id": site, "quarantined_at": now})
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


class _TableWriter:
    """Appends a run's fresh rows to one table: Parquet files as chunks come, one snapshot at the end.

    Rows arrive in chunks (bounded memory); each chunk is deduplicated against itself, against the
    rows this run already wrote (not visible to scans until the commit) and against the table.
    """

    def __init__(self, table: Table, key: str, by_partition: bool, properties: dict[str, str]) -> None:
        self.table, self.key, self.by_partition, self.properties = table, key, by_partition, properties
        self.files = FastAppend(table)
        self.seen = SeenKeys()
        self.held_files: dict[str, pa.Array] = {}  # keys of the table's files, each read once a run
        self.written = self.duplicates = 0
        self.committing = self.committed = False

    def add(self, rows: pa.Table) -> None:
        unique = first_per_key(rows, self.key)
        if unique.num_rows:
            again = self.seen.contains(unique.column(self.key))
            if again.true_count:  # (filtering copies every column: only when something goes)
                unique = unique.filter(pc.invert(again))
        partitions = touched_partitions(unique, TIME_COLUMN) if self.by_partition and unique.num_rows else None
        fresh = not_in_table(unique, self.table, self.key, partitions, self.held_files)
        self.duplicates += rows.num_rows - fresh.num_rows
        if fresh.num_rows:
            self.files.write(fresh)
            self.seen.add(fresh.column(self.key))
            self.written += fresh.num_rows

    def commit(self) -> None:
        properties = {**self.properties, "moodlens.rows": str(self.written)}

        def recheck(files: FastAppend, base_snapshot_id: int | None) -> None:
            late = drop_committed_since(files, base_snapshot_id, self.key)  # another run committed them
            self.written -= late
            self.duplicates += late
            properties["moodlens.rows"] = str(self.written)  # read again by the next attempt

        self.committing = True
        try:
            self.files.commit(properties, recheck)
        except CommitFailedException:
            self.committing = False  # the catalog refused it: it did not land
            raise
        self.committed = True

    def _landed(self) -> bool:
        """After a commit that failed some other way: did it land? (When unsure: say so, keep the files.)"""
        try:
            self.files.table.refresh()
            added = {f.file_path for f in added_since(self.files.table, self.files.base_snapshot_id)}
        except Exception:
            return True  # the catalog cannot be read: the files stay, for `maintain` to judge later
        return any(f.file_path in added for f in self.files.files)

    def abort(self) -> None:
        """Deletes the files this run wrote for the table, unless its commit landed."""
        if not self.committed and not (self.committing and self._landed()):
            self.files.abort()


class DiskFullError(OSError):
    """The lake's disk filled up during a run; what the run wrote is deleted again."""


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a full disk: ENOSPC, pyarrow's or SQLite's words for it."""
    seen: BaseException | None = error
    while seen is not None:
        if getattr(seen, "errno", None) == errno.ENOSPC or "No space left on device" in str(seen) \
                or "database or disk is full" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _size(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def disk_full_error(location: str, needed_bytes: int, records: int) -> DiskFullError:
    """What to tell the operator: which disk, how much is free, how much the run needed."""
    path = location.removeprefix("file://")
    probe = path
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    free = shutil.disk_usage(probe or "/").free
    return DiskFullError(
        errno.ENOSPC, f"the disk holding {path} is full ({_size(free)} free): the files for the first "
        f"{records:,} records need about {_size(needed_bytes)}, more for the rest of the input. This run has "
        f"deleted the files it had not committed (tables it committed before stay; the next run skips their "
        f"rows). Free space or grow the disk, then run it again")


def compact(catalog: Catalog, sources: Iterable[Source], since: dt.datetime | None = None,
            until: dt.datetime | None = None, fault: Callable[[str], None] = _no_fault,
            now: dt.datetime | None = None, flush_rows: int = FLUSH_ROWS) -> CompactionResult:
    with big_blocks_reused():  # a file's or a batch's big buffers are reused, not faulted in again
        return _compact(catalog, sources, since, until, fault, now, flush_rows)


def _compact(catalog: Catalog, sources: Iterable[Source], since: dt.datetime | None,
             until: dt.datetime | None, fault: Callable[[str], None],
             now: dt.datetime | None, flush_rows: int) -> CompactionResult:
    now = now or dt.datetime.now(dt.UTC)
    writers: dict[str, _TableWriter] = {}
    decoded = Decoded()
    try:
        migrated = migrate_lake(existing_tables(catalog))  # named in the result (ensure_tables would, silently)
        tables = ensure_tables(catalog)
        run = {"moodlens.compaction": now.isoformat()}
        writers.update({name: _TableWriter(tables[name], "event_id", True, run) for name in EVENT_TABLES})
        writers[QUARANTINE] = _TableWriter(tables[QUARANTINE], "record_id", False, run)
        result = _run(writers, decoded, sources, since, until, fault, now, flush_rows)
        result.migrated = migrated
        return result
    except BaseException as error:
        for writer in writers.values():
            writer.abort()  # a failed run keeps no space taken
        if isinstance(error, Exception) and is_disk_full(error):
            needed = sum(writer.files.space_needed() for writer in writers.values())
            raise disk_full_error(str(catalog.properties.get("warehouse", "the lake")), needed,
                                  decoded.records) from error
        raise


def _run(writers: dict[str, _TableWriter], decoded: Decoded, sources: Iterable[Source],
         since: dt.datetime | None, until: dt.datetime | None, fault: Callable[[str], None],
         now: dt.datetime, flush_rows: int) -> CompactionResult:
    started = time.perf_counter()
    result = CompactionResult()

    def flush() -> None:
        for name, parts in decoded.tables.items():
            rows = pa.concat_tables(parts)
            inside = _within(rows, since, until)
            result.outside_window += rows.num_rows - inside.num_rows
            writers[name].add(inside)
        decoded.tables.clear()

    for source in sources:
        for batch in source.batches:
            decode_lines(batch, decoded)
            del batch  # its file's bytes (50+ MB) go before the next file is read, not after
            if sum(t.num_rows for parts in decoded.tables.values() for t in parts) >= flush_rows:
                flush()
        result.errors.extend(source.errors)
    flush()
    result.records, result.fast, result.reference = decoded.records, decoded.fast, decoded.reference
    for name in EVENT_TABLES:
        writer = writers[name]
        fault(f"before_commit:{name}")
        writer.commit()
        if writer.written or writer.duplicates:
            result.written[name], result.duplicates[name] = writer.written, writer.duplicates
        fault(f"after_commit:{name}")
    if decoded.rejected:
        quarantine = writers[QUARANTINE]
        quarantine.add(quarantine_rows(decoded.rejected, now))
        result.duplicates[QUARANTINE] = quarantine.duplicates
        fault(f"before_commit:{QUARANTINE}")
        quarantine.commit()
        result.quarantined = quarantine.written
    result.seconds = time.perf_counter() - started
    return result
