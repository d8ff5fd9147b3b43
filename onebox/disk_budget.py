"""The disk budget for spools, the event log, the box's logs and the lake.

`assess` is pure: used bytes against the budget give ok, warn (past `warn_percent`) or over, and a file
system that is nearly full whatever the budget says (other files filled it) gives full. What
to free when over is the caller's choice (`onebox.up`): rotated log files first, then event log
segments the stream runner has already consumed. The spools and the lake are never deleted by the
budget: the spool holds events not yet delivered and the lake is the record.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MIB = 1024 * 1024


@dataclass(frozen=True)
class FileSystem:
    """The file system holding the state folder: the budget may be far off while other files fill it."""

    total_bytes: int
    free_bytes: int

    @property
    def full(self) -> bool:
        """Less free than 2% of it, at most 64 MiB: SQLite, the event log and the lake fail at any moment."""
        return self.free_bytes < min(64 * MIB, self.total_bytes // 50)


@dataclass(frozen=True)
class Assessment:
    level: Literal["ok", "warn", "over", "full"]
    used_bytes: int
    budget_bytes: int
    file_system: FileSystem | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.used_bytes / self.budget_bytes

    def describe(self) -> str:
        budget = (f"disk budget: {self.used_bytes / MIB:.1f} of {self.budget_bytes / MIB:.0f} MiB used "
                  f"({self.percent:.0f}%)")
        if self.level != "full" or self.file_system is None:
            return budget
        fs = self.file_system
        return (f"the disk is full: {fs.free_bytes / MIB:.1f} MiB free of {fs.total_bytes / MIB:.0f} MiB, of which "
                f"the box's own files use {self.used_bytes / MIB:.1f} MiB ({budget})")

    def to_json(self) -> dict[str, object]:
        free = None if self.file_system is None else round(self.file_system.free_bytes / MIB, 1)
        return {"level": self.level, "used_mb": round(self.used_bytes / MIB, 1),
                "budget_mb": round(self.budget_bytes / MIB, 1), "percent": round(self.percent, 1), "free_mb": free}


def assess(used_bytes: int, budget_bytes: int, warn_percent: float,
           file_system: FileSystem | None = None) -> Assessment:
    if file_system is not None and file_system.full:
        return Assessment("full", used_bytes, budget_bytes, file_system)
    if used_bytes >= budget_bytes:
        return Assessment("over", used_bytes, budget_bytes, file_system)
    if used_bytes >= budget_bytes * warn_percent / 100:
        return Assessment("warn", used_bytes, budget_bytes, file_system)
    return Assessment("ok", used_bytes, budget_bytes, file_system)


def file_system(path: Path) -> FileSystem | None:
    """The file system holding `path` (or its nearest existing parent); None when it cannot be asked."""
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        usage_now = shutil.disk_usage(path)
    except OSError:
        return None
    return FileSystem(usage_now.total, usage_now.free)


def usage(paths: Iterable[Path]) -> int:
    """Bytes in the files under `paths` (each counted once, even if the paths overlap)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in paths:
        if not root.exists():
            continue
        walker = [(str(root.parent), [], [root.name])] if root.is_file() else os.walk(root)
        for folder, _, files in walker:
            for name in files:
                try:
                    stat = os.stat(os.path.join(folder, name))
                except FileNotFoundError:
                    continue  # rotated or compacted away while we looked
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    total += stat.st_size
    return total


def rotated_logs(log_dir: Path) -> list[Path]:
    """Old rotated log files (moodlens.log.1, .2, ...), oldest first: the first thing to go."""
    return sorted(log_dir.glob("*.log.*"), key=lambda p: p.stat().st_mtime)
