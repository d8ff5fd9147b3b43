"""One compaction run: read every source, decode and check, drop duplicates, commit.

Commit order and crashes: pyiceberg commits one table at a time (there is no multi-table
transaction in Iceberg's REST/SQL/Glue catalogs as pyiceberg 0.12 uses them), so a run commits
exactly one snapshot per table it has rows for, in a fixed order: face_expression,
camera_heartbeat, sentiment_window, sentiment_alarm, then quarantine. Each commit is atomic:
readers see a table before or after it, never half. A crash between two commits leaves the
earlier tables committed and the later ones at their previous snapshot; the next run over the
same input finds the committed rows by event_id (and quarantined ones by their hash), skips them
and commits the rest. So the lake converges to exactly what one uninterrupted run gives.
Data files written by a run that died before its commit are orphans no snapshot names;
`maintain` deletes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog

from batch.compact.decode import Decoded, Rejected, decode_lines
from batch.compact.dedup import first_per_key, not_in_table, touched_partitions
from batch.compact.sources import Source, SourceError
from batch.lake.tables import EVENT_TABLES, QUARANTINE, QUARANTINE_SCHEMA, TIME_COLUMN, ensure_tables

MAX_RAW_KEPT = 64 * 1024


def _no_fault(point: str) -> None:
    return None


@dataclass
class CompactionResult:
    records: int = 0
    written: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    outside_window: int = 0
    quarantined: int = 0
    errors: list[SourceError] = field(default_factory=list)
    fast: int = 0
    reference: int = 0
    seconds: float = 0.0

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
    keep = pa.array([True] * rows.num_rows)
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(micros, _micros(since)))
    if until is not None:
        keep = pc.and_(keep, pc.less(micros, _micros(until)))
    return rows.filter(keep)


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


def compact(catalog: Catalog, sources: Iterable[Source], since: dt.datetime | None = None,
            until: dt.datetime | None = None, fault: Callable[[str], None] = _no_fault,
            now: dt.datetime | None = None) -> CompactionResult:
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    result = CompactionResult()
    tables = ensure_tables(catalog)
    decoded = Decoded()
    for source in sources:
        for batch in source.batches:
            result.records += len(batch)
            decode_lines(batch, decoded)
        result.errors.extend(source.errors)
    result.fast, result.reference = decoded.fast, decoded.reference
    run = {"moodlens.compaction": now.isoformat()}
    for name in EVENT_TABLES:
        parts = decoded.tables.get(name)
        if not parts:
            continue
        rows = pa.concat_tables(parts)
        inside = _within(rows, since, until)
        result.outside_window += rows.num_rows - inside.num_rows
        unique = first_per_key(inside, "event_id")
        fresh = not_in_table(unique, tables[name], "event_id", touched_partitions(unique, TIME_COLUMN)
                             if unique.num_rows else None)
        result.duplicates[name] = inside.num_rows - fresh.num_rows
        fault(f"before_commit:{name}")
        if fresh.num_rows:
            tables[name].append(fresh, snapshot_properties={**run, "moodlens.rows": str(fresh.num_rows)})
        result.written[name] = fresh.num_rows
        fault(f"after_commit:{name}")
    if decoded.rejected:
        rows = first_per_key(quarantine_rows(decoded.rejected, now), "record_id")
        fresh = not_in_table(rows, tables[QUARANTINE], "record_id", None)
        result.duplicates[QUARANTINE] = len(decoded.rejected) - fresh.num_rows
        fault(f"before_commit:{QUARANTINE}")
        if fresh.num_rows:
            tables[QUARANTINE].append(fresh, snapshot_properties={**run, "moodlens.rows": str(fresh.num_rows)})
        result.quarantined = fresh.num_rows
    result.seconds = time.perf_counter() - started
    return result
