"""Where the box keeps things, all under the site's state folder."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

STATUS_FILE = "status.json"
CHILDREN_FILE = "children.json"
JOBS_FILE = "jobs.json"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def log(self) -> Path:  # the embedded event log (edges append, the stream runner reads)
        return self.root / "log"

    @property
    def stream(self) -> Path:  # windows.jsonl, alarms.jsonl, checkpoint.json
        return self.root / "stream"

    @property
    def spool(self) -> Path:  # one SQLite spool per camera
        return self.root / "spool"

    @property
    def logs(self) -> Path:  # the box's own JSON-lines log, rotated
        return self.root / "logs"

    @property
    def run(self) -> Path:  # status.json: children and disk, for the dashboard
        return self.root / "run"

    @property
    def status(self) -> Path:
        return self.run / STATUS_FILE

    @property
    def children(self) -> Path:  # pids and start times of the running children, for the next `up`
        return self.run / CHILDREN_FILE

    @property
    def jobs(self) -> Path:  # when each scheduled job last ran (retention, crop expiry, ...)
        return self.run / JOBS_FILE

    def make(self) -> None:
        for folder in (self.log, self.stream, self.spool, self.logs, self.run):
            folder.mkdir(parents=True, exist_ok=True)


class AlreadyRunningError(RuntimeError):
    pass


def lock(root: Path) -> IO[str]:
    """An exclusive lock on the state folder for as long as the returned file stays open."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "moodlens.lock"
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise AlreadyRunningError(
            f"another `moodlens up` (pid {holder}) is already running on the state folder {root}; "
            "stop it first (`systemctl stop moodlens`, or Ctrl-C in its terminal) or give this site "
            "another [site] state_dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
