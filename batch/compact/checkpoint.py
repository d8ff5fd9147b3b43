"""How far compaction has read the embedded log, so a run reads only what is new.

Written after every table has committed, atomically (temp file, fsync, rename). A crash before
it leaves the old offset: the next run re-reads those records and dedup by event_id skips what
was committed. Only a speed-up: deleting the file (or `--from-start`) re-reads the whole log and
changes nothing in the tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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
    temp = path.with_suffix(".tmp")
    with temp.open("w", encoding="utf-8") as stream:
        json.dump(offsets, stream, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temp, path)
