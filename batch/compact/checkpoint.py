"""How far compaction has read the embedded log, so a run reads only what is new.

Written after every table has committed, atomically (``locallog.files.write_atomically``: temp
file, fsync, rename, folder fsync). A crash before
it leaves the old offset: the next run re-reads those records and dedup by event_id skips what
was committed. Only a speed-up: deleting the file (or `--from-start`) re-reads the whole log and
changes nothing in the tables.

A log is known by its folder, and the offset is only trusted while it still names the same log: with
the offset the file keeps a fingerprint of the last record read. A log replaced at the same path (a
folder deleted and written again, a history re-made) has other records there, or fewer: then the
offset is 0 and the whole log is read again, rather than its first records skipped for good (and,
on a box, its segments deleted as if they were in the lake). Where that record is no longer kept (the
box deleted segments the lake already holds), the offset stands.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from locallog import LocalLog
from locallog.files import write_atomically

CHECKPOINT = "compaction-checkpoint.json"


def _fingerprint(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:32]


def _record_before(log_dir: Path, offset: int) -> tuple[int, bytes] | None:
    """The record at ``offset - 1``, or the first kept one after it (segments deleted), or None (no such
    record: the log is shorter)."""
    if not log_dir.is_dir():
        return None
    found = LocalLog(log_dir).read(offset - 1, 1)
    return found[0] if found else None


def _entries(lake_root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((lake_root / CHECKPOINT).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}


def read_offset(lake_root: Path, log_dir: Path) -> int:
    """The offset compaction goes on from: 0 when the log at ``log_dir`` is not the one it read."""
    entry = _entries(lake_root).get(str(log_dir.resolve()), 0)
    if isinstance(entry, int):  # written before fingerprints: trusted as it was
        return entry
    offset, fingerprint = int(entry["offset"]), str(entry["last_record_sha256"])
    if offset == 0:
        return 0
    record = _record_before(log_dir, offset)
    if record is None:
        return 0  # the log ends before the offset: another, shorter log
    at, payload = record
    if at == offset - 1 and _fingerprint(payload) != fingerprint:
        return 0  # another record where the last one read was: another log
    return offset


def write_offset(lake_root: Path, log_dir: Path, offset: int) -> None:
    offsets = _entries(lake_root)
    record = _record_before(log_dir, offset) if offset > 0 else None
    last = _fingerprint(record[1]) if record is not None and record[0] == offset - 1 else ""
    offsets[str(log_dir.resolve())] = {"offset": offset, "last_record_sha256": last}
    write_atomically(lake_root / CHECKPOINT, json.dumps(offsets, sort_keys=True).encode())
