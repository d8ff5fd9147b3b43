"""The embedded event log, seen from the box: tail its heartbeats, trim what the stream has consumed.

The one place `onebox` touches the local log (the `locallog` package).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from locallog import LocalLog


def open_log(directory: Path) -> LocalLog:
    return LocalLog(directory)


class LogTail:
    """Reads new records from the log, starting near its end (a dashboard needs the recent past only)."""

    def __init__(self, directory: Path, backlog: int = 2000) -> None:
        self.directory = directory
        self._log: LocalLog | None = None
        self._offset: int | None = None
        self.backlog = backlog

    def read(self, max_records: int = 5000) -> list[dict[str, Any]]:
        if self._log is None:
            if not self.directory.is_dir():
                return []
            self._log = LocalLog(self.directory)
        if self._offset is None:
            self._offset = max(self._log.start_offset(), self._log.end_offset() - self.backlog)
        records = self._log.read(self._offset, max_records)
        if not records:
            return []
        self._offset = records[-1][0] + 1
        out = []
        for _, payload in records:
            try:
                out.append(json.loads(payload))
            except ValueError:
                continue  # the stream runner dead-letters it; the dashboard just skips it
        return out


def consumed_offset(stream_state: Path) -> int | None:
    """The log offset the stream runner has checkpointed (everything before it is in its windows)."""
    try:
        return int(json.loads((stream_state / "checkpoint.json").read_bytes())["position"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def trim(directory: Path, before_offset: int) -> int:
    """Deletes whole log segments below `before_offset`; returns how many went."""
    return LocalLog(directory).delete_before(before_offset)
