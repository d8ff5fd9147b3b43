"""The on-device spool: a durable, bounded FIFO of events in SQLite (WAL), between capture and delivery.

Every event goes here first; the publisher sends from here and deletes (acks) only what the other side
accepted. So a SIGKILL, a reboot or a week without network loses nothing that `put` returned for, up to
the bounds.

Bounds and the drop policy: at most `max_records` events, `max_bytes` of payload, and events younger
than `max_age_s`. Past a bound the **oldest** events are dropped (a live dashboard wants the newest
data more than a backlog), and every drop is counted: `dropped_count` (since this process opened the
spool) goes into heartbeats, `dropped_total` (over the spool's life) is stored alongside.

Durability: `synchronous=FULL` by default, so an acknowledged `put` is on disk even after power loss.
`NORMAL` (faster on slow SD cards) still survives a killed process, not a power cut.

A full disk is one more bound, not the end of the edge: when SQLite says "database or disk is full",
`put` drops the oldest events to make room (at least as many as it stores, at least 10% of the
spool) and tries once more; if even that fails (the disk is full of something else) the new events
are dropped instead. Either way they are counted in `dropped_count` (so heartbeats report them),
`put` returns 0 for an event it could not keep, never raises for it, and the log says so clearly the
first time, then again only as the count of drops passes 10, 100, 1,000... (a full disk lasts).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.publish.ports import OutboundRecord

logger = logging.getLogger(__name__)
DROPPED = 0  # the sequence number `put` returns for an event the full disk made it drop
_FULL_DISK_SHARE = 10  # a full disk drops at least 1/this (10%) of the spool at once, not one event per put


def is_disk_full(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL: "database or disk is full" (a full file system, or max_page_count)."""
    return isinstance(error, sqlite3.OperationalError) and (
        getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a seq is never reused, even after a drain
    enqueued_ms INTEGER NOT NULL,
    site_id TEXT NOT NULL,
    camera_id TEXT,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SpoolBounds:
    max_records: int = 100_000
    max_bytes: int = 256 * 1024 * 1024
    max_age_s: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.max_bytes < 1 or self.max_age_s <= 0:
            raise ValueError(f"spool bounds must be positive: {self}")


class SqliteSpool:
    """Thread-safe within one process (the capture thread puts, the drainer peeks and acks)."""

    def __init__(self, path: Path | str, bounds: SpoolBounds | None = None,
                 synchronous: Literal["FULL", "NORMAL"] = "FULL",
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.bounds = bounds or SpoolBounds()
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._lock = threading.Lock()
        # Autocommit mode: we open each transaction ourselves, so nothing waits in an implicit one.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool").fetchone()
        self._count, self._bytes = int(count), int(size)
        self._dropped = 0
        self._unsaved_drops = 0  # dropped while nothing could be written: added to dropped_total later
        self._full_disk_drops = 0
        self._full_disk_logged = 0  # the drop count last logged (0: never)

    # ------------------------------------------------------------------ writing

    def put(self, payload: bytes, site_id: str, camera_id: str | None) -> int:
        """Stores one event durably; returns its sequence number."""
        return self.put_many([(payload, site_id, camera_id)])[0]

    def put_many(self, items: Iterable[tuple[bytes, str, str | None]]) -> list[int]:
        """Stores events in one transaction (one fsync); returns their sequence numbers, in order
        (``DROPPED``, 0, for events a full disk made it drop: see the module docstring)."""
        rows = [(bytes(payload), site_id, camera_id) for payload, site_id, camera_id in items]
        for payload, _, _ in rows:
            if len(payload) > self.bounds.max_bytes:
                raise ValueError(f"event of {len(payload)} bytes exceeds the spool's {self.bounds.max_bytes}")
        now = self._clock_ms()
        with self._lock:
            try:
                seqs = self._insert(rows, now)
            except sqlite3.OperationalError as error:
                if not is_disk_full(error):
                    raise
                before = self._dropped
                seqs = self._insert_on_full_disk(rows, now)
                self._log_full_disk(self._dropped - before, error)
            return seqs

    def _log_full_disk(self, dropped: int, error: sqlite3.OperationalError) -> None:
        self._full_disk_drops += dropped
        if self._full_disk_logged == 0:
            logger.warning("spool %s: %s. Dropping the oldest events to keep the newest (counted in "
                           "heartbeats' dropped_count); free disk space to stop the loss.", self.path, error)
        elif len(str(self._full_disk_drops)) > len(str(self._full_disk_logged)):
            logger.warning("spool %s: disk still full, %d events dropped for it so far", self.path,
                           self._full_disk_drops)
        else:
            return
        self._full_disk_logged = max(self._full_disk_drops, 1)

    def _insert_on_full_disk(self, rows: list[tuple[bytes, str, str | None]], now: int) -> list[int]:
        try:
            with self._transaction():
                room = max(len(rows), self._count // _FULL_DISK_SHARE, 1)
                oldest = self._db.execute("SELECT seq, size FROM spool ORDER BY seq LIMIT ?", (room,)).fetchall()
                self._delete_dropped(oldest, quiet=True)
            return self._insert(rows, now)
        except sqlite3.OperationalError as again:
            if not is_disk_full(again):
                raise
        # Not even room for these after dropping: the disk is full of something else. Drop the new ones.
        self._dropped += len(rows)
        self._unsaved_drops += len(rows)
        return [DROPPED] * len(rows)

    def _insert(self, rows: list[tuple[bytes, str, str | None]], now: int) -> list[int]:
        with self._transaction():
            if self._unsaved_drops:
                self._db.execute("INSERT INTO meta (key, value) VALUES ('dropped_total', ?) "
                                 "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                                 (self._unsaved_drops,))
            seqs = []
            for payload, site_id, camera_id in rows:
                self._make_room(len(payload), now)
                cursor = self._db.execute(
                    "INSERT INTO spool (enqueued_ms, site_id, camera_id, size, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (now, site_id, camera_id, len(payload), payload))
                assert cursor.lastrowid is not None
                seqs.append(cursor.lastrowid)
                self._count += 1
                self._bytes += len(payload)
            self._unsaved_drops = 0
            return seqs

    def _make_room(self, incoming: int, now_ms: int) -> None:
        """Drops expired events, then the oldest until one more of `incoming` bytes fits."""
        self._drop_expired(now_ms)
        while self._count > 0 and (self._count + 1 > self.bounds.max_records
                                   or self._bytes + incoming > self.bounds.max_bytes):
            excess_records = self._count + 1 - self.bounds.max_records
            # Drop in one statement when the count is the bound; byte bounds drop one at a time.
            limit = max(1, excess_records)
            rows = self._db.execute("SELECT seq, size FROM spool ORDER BY seq LIMIT ?", (limit,)).fetchall()
            self._delete_dropped(rows)

    def _drop_expired(self, now_ms: int) -> None:
        cutoff = now_ms - int(self.bounds.max_age_s * 1000)
        head = self._db.execute("SELECT enqueued_ms FROM spool ORDER BY seq LIMIT 1").fetchone()
        if head is None or head[0] >= cutoff:
            return  # the common case costs one indexed lookup
        rows = self._db.execute("SELECT seq, size FROM spool WHERE enqueued_ms < ?", (cutoff,)).fetchall()
        self._delete_dropped(rows)

    def _delete_dropped(self, rows: Sequence[tuple[int, int]], quiet: bool = False) -> None:
        if not rows:
            return
        self._db.executemany("DELETE FROM spool WHERE seq = ?", [(seq,) for seq, _ in rows])
        self._db.execute("INSERT INTO meta (key, value) VALUES ('dropped_total', ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value", (len(rows),))
        self._count -= len(rows)
        self._bytes -= sum(size for _, size in rows)
        self._dropped += len(rows)
        if not quiet:
            logger.warning("spool full or stale: dropped the %d oldest events (%d dropped since start)",
                           len(rows), self._dropped)

    # ------------------------------------------------------------------ reading

    def peek(self, max_records: int, max_bytes: int) -> list[OutboundRecord]:
        """The oldest events in order, as many as fit the limits (always at least one if any)."""
        with self._lock:
            with self._transaction():
                self._drop_expired(self._clock_ms())
            rows = self._db.execute(
                "SELECT seq, payload, site_id, camera_id, enqueued_ms FROM spool ORDER BY seq LIMIT ?",
                (max_records,)).fetchall()
        batch: list[OutboundRecord] = []
        total = 0
        for seq, payload, site_id, camera_id, enqueued_ms in rows:
            if batch and total + len(payload) > max_bytes:
                break
            batch.append(OutboundRecord(seq, bytes(payload), site_id, camera_id, enqueued_ms))
            total += len(payload)
        return batch

    def ack(self, seqs: Sequence[int]) -> None:
        """Deletes delivered events. Acking one already dropped (or acked) is harmless."""
        if not seqs:
            return
        with self._lock, self._transaction():
            # One bound parameter (a JSON array), no SQL built from strings, no limit on how many.
            rows = self._db.execute("SELECT seq, size FROM spool WHERE seq IN (SELECT value FROM json_each(?))",
                                    (json.dumps([int(seq) for seq in seqs]),)).fetchall()
            self._db.executemany("DELETE FROM spool WHERE seq = ?", [(seq,) for seq, _ in rows])
            self._count -= len(rows)
            self._bytes -= sum(size for _, size in rows)

    def depth(self) -> int:
        return self._count

    def size_bytes(self) -> int:
        return self._bytes

    @property
    def dropped_count(self) -> int:
        """Events dropped by the bounds since this process opened the spool."""
        return self._dropped

    @property
    def dropped_total(self) -> int:
        """Events dropped over the spool file's whole life."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped_total'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteSpool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; on an exception, ROLLBACK and reload the counters it touched."""
        self._db.execute("BEGIN IMMEDIATE")
        dropped, unsaved = self._dropped, self._unsaved_drops
        try:
            yield
            self._db.execute("COMMIT")  # may fail too (a full disk while writing the WAL)
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL at COMMIT)
                self._db.execute("ROLLBACK")
            count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool").fetchone()
            self._count, self._bytes = int(count), int(size)
            self._dropped, self._unsaved_drops = dropped, unsaved
            raise
