"""Keeping the lake tidy and forgetful: small files rewritten, old partitions and snapshots gone.

* first, a table written before the time columns were renamed is migrated (`batch.lake.migrate`).
* `rewrite_small_files`: a partition with several files is rewritten as one (or a few of the
  target size), all partitions of a table in one transaction (one atomic commit).
* `apply_retention`: deletes whole day partitions older than the cutoff. The filter is aligned to
  day boundaries, so Iceberg drops the files without rewriting any.
* `expire_snapshots`: forgets snapshots older than the cutoff (the current one always stays),
  then deletes the data files only expired snapshots named: after retention, the deleted rows
  exist in no file any more, not even for time travel.
* `delete_orphans`: files under the table's data folder (a folder or S3) that no snapshot names (a
  run killed before its commit), older than a grace period. `moodlens batch maintain` holds the
  lake's lock, so no compaction is in flight and its grace is 0 unless asked otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pyarrow.compute as pc
from pyarrow.fs import FileSelector, FileType
from pyiceberg.expressions import BooleanExpression
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table

from batch.lake.filters import both, eq, ge, lt
from batch.lake.migrate import Change, migrate_table
from batch.lake.tables import QUARANTINE, TARGET_FILE_BYTES, TIME_COLUMN
from schemas.privacy import DEFAULT_RETAIN_DAYS

ORPHAN_GRACE = dt.timedelta(hours=1)


@dataclass
class MaintenanceResult:
    rewritten_partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    deleted_rows: int = 0
    expired_snapshots: int = 0
    deleted_files: list[str] = field(default_factory=list)
    migrated: list[Change] = field(default_factory=list)


def time_column(table: Table) -> str:
    return "quarantined_at" if table.name()[-1] == QUARANTINE else TIME_COLUMN


def _day_filter(table: Table, day: dt.date, site: str | None) -> BooleanExpression:
    column = time_column(table)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    window = both(ge(column, start.isoformat()), lt(column, (start + dt.timedelta(days=1)).isoformat()))
    return both(window, eq("site_id", site)) if site is not None else window


def rewrite_small_files(table: Table, target_bytes: int = TARGET_FILE_BYTES) -> MaintenanceResult:
    result = MaintenanceResult()
    if table.current_snapshot() is None:
        return result
    files = table.inspect.files()
    result.files_before = result.files_after = files.num_rows
    partitions: dict[tuple[dt.date, str | None], list[int]] = {}
    for partition, size in zip(files.column("partition").to_pylist(),
                               files.column("file_size_in_bytes").to_pylist(), strict=True):
        day = partition.get("event_day", partition.get("quarantine_day"))
        if isinstance(day, int):  # days since the epoch in some pyiceberg versions
            day = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        partitions.setdefault((day, partition.get("site_id")), []).append(size)
    small = [key for key, sizes in partitions.items()
             if len(sizes) > 1 and sum(s < target_bytes // 2 for s in sizes) > 1]
    if not small:
        return result
    tx = table.transaction()
    for day, site in small:
        condition = _day_filter(table, day, site)
        rows = table.scan(row_filter=condition).to_arrow()
        tx.overwrite(rows.sort_by([(time_column(table), "ascending")]), overwrite_filter=condition)
    tx.commit_transaction()
    result.rewritten_partitions = len(small)
    result.files_after = table.refresh().inspect.files().num_rows
    return result


def apply_retention(table: Table, retain_days: int, now: dt.datetime) -> int:
    """Deletes every day partition before today - retain_days; returns the rows deleted."""
    if table.current_snapshot() is None:
        return 0
    cutoff = dt.datetime.combine(now.date() - dt.timedelta(days=retain_days), dt.time(), tzinfo=dt.UTC)
    condition = lt(time_column(table), cutoff.isoformat())
    doomed = table.scan(row_filter=condition, selected_fields=(time_column(table),)).to_arrow().num_rows
    if doomed:
        table.delete(condition, snapshot_properties={"moodlens.retention_cutoff": cutoff.isoformat()})
    return doomed


def _referenced_data_files(table: Table) -> dict[int, set[str]]:
    named: dict[int, set[str]] = {}
    for snapshot in table.snapshots():
        paths: set[str] = set()
        for manifest in snapshot.manifests(table.io):
            paths.update(entry.data_file.file_path for entry in manifest.fetch_manifest_entry(table.io))
        named[snapshot.snapshot_id] = paths
    return named


def expire_snapshots(table: Table, older_than: dt.datetime) -> tuple[int, list[str]]:
    """Expires snapshots before `older_than` (never the current one) and deletes their own files."""
    current = table.current_snapshot()
    if current is None:
        return 0, []
    before = _referenced_data_files(table)
    expired = [s.snapshot_id for s in table.snapshots()
               if s.snapshot_id != current.snapshot_id and s.timestamp_ms < older_than.timestamp() * 1000]
    if not expired:
        return 0, []
    table.maintenance.expire_snapshots().by_ids(expired).commit()
    table.refresh()
    kept = set().union(*_referenced_data_files(table).values())
    gone = sorted(set().union(*(before[i] for i in expired)) - kept)
    for path in gone:
        table.io.delete(path)
    return len(expired), gone


def delete_orphans(table: Table, now: dt.datetime, grace: dt.timedelta = ORPHAN_GRACE) -> list[str]:
    """Data files in the table's folder that no snapshot names, at least `grace` old."""
    location = urlparse(table.location())
    if location.scheme not in ("", "file"):
        return _delete_stored_orphans(table, now, grace)
    named = {urlparse(p).path for paths in _referenced_data_files(table).values() for p in paths}
    deleted = []
    for folder, _, names in os.walk(os.path.join(location.path, "data")):
        for name in names:
            path = os.path.join(folder, name)
            age = now.timestamp() - os.path.getmtime(path)
            if path not in named and name.endswith(".parquet") and age >= grace.total_seconds():
                os.remove(path)
                deleted.append(path)
    return deleted


def _delete_stored_orphans(table: Table, now: dt.datetime, grace: dt.timedelta) -> list[str]:
    """`delete_orphans` on an object store (S3): the table's data objects listed through its FileIO."""
    io = table.io
    if not isinstance(io, PyArrowFileIO):
        return []
    scheme, netloc, path = PyArrowFileIO.parse_location(table.location())
    listed = io.fs_by_scheme(scheme, netloc).get_file_info(
        FileSelector(f"{path.rstrip('/')}/data", recursive=True, allow_not_found=True))
    named = {p for paths in _referenced_data_files(table).values() for p in paths}
    deleted = []
    for info in listed:
        uri = f"{scheme}://{info.path}"
        old_enough = info.mtime is not None and now - info.mtime >= grace
        if info.type == FileType.File and info.path.endswith(".parquet") and uri not in named and old_enough:
            io.delete(uri)
            deleted.append(uri)
    return deleted


def count_rows(table: Table) -> int:
    files = table.inspect.files()
    return int(pc.sum(files.column("record_count")).as_py() or 0) if files.num_rows else 0


def maintain_lake(tables: dict[str, Table], now: dt.datetime, retain_days: int | None = DEFAULT_RETAIN_DAYS,
                  expire_after: dt.timedelta = dt.timedelta(0), grace: dt.timedelta = ORPHAN_GRACE
                  ) -> dict[str, MaintenanceResult]:
    """Per table: the time columns migrated, retention, then small files, then snapshots expired and
    their files deleted (a migration's own old files too, once `expire_after` has passed)."""
    results = {}
    for name, table in tables.items():
        migrated = migrate_table(table, name)
        deleted = apply_retention(table, retain_days, now) if retain_days is not None else 0
        result = rewrite_small_files(table)
        result.deleted_rows, result.migrated = deleted, migrated
        # Snapshots are stamped with the wall clock (retention's own delete included): expire by it.
        result.expired_snapshots, gone = expire_snapshots(table, dt.datetime.now(dt.UTC) - expire_after)
        result.deleted_files = gone + delete_orphans(table, now, grace)
        results[name] = result
    return results
