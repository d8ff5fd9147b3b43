"""How far compaction has read the embedded log, so a run reads only what is new.

Written after every table has committed, atomically (``locallog.files.write_atomically``: temp
file, fsync, rename, folder fsync). A crash before
it leaves the old offset: the next run re-reads those records and dedup by event_id skips what
was committed. Only a speed-up: deleting the file (or `--from-start`) re-reads the whole log and
changes nothing in the tables.
"""

from __future__ import annotations

import json
from pathlib import Path

from locallog.files import write_atomically

CHECKPOINT = "compaction-checkpoint.json"


def read_offset(lake_root: Path, log_dir: Path) -> int:
    try:
        offsets = json.loads((lake_root / CHECKPOINT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    return int(offsets.get(str(log_dir.resolve()), 0))


def write_offset(lake_root: Path, log_dir: Path, offset: int) -> None:
    path = lake_root / CHECKPOINT
    try:
        offsets = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        offsets = {}
    offsets[str(log_dir.resolve())] = offset
    write_atomically(path, json.dumps(offsets, sort_keys=True).encode())
