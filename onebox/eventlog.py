"""The embedded event log, seen from the box: tail its heartbeats, tell what the stream refused of it, trim
what the stream has consumed.

The one place `onebox` touches the local log (the `locallog` package). Every record read here is
checked against the event contract (`schemas`, the stream's own fast decoder): one bad record (a
text `fps`, a missing field, broken JSON) is skipped and counted, so no reader of the log can be
stopped by it, and the reason is logged with the record's offset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locallog import LocalLog
from schemas.fast_decode import ValidationError, parse_event_fast
from stream.deadletter import DeadLetter
from stream.jsonl import complete_lines
from stream.state.local import read_state

log = logging.getLogger("moodlens.eventlog")
READ_BATCH = 5000


def open_log(directory: Path) -> LocalLog:
    return LocalLog(directory)


@dataclass
class Skipped:
    """Records a reader refused: how many, and why the last one was refused."""

    count: int = 0
    last: str | None = None

    def add(self, where: str, error: ValidationError) -> None:
        self.count += 1
        self.last = f"{where}: {error}"
        log.warning("%s skipped, it breaks the event contract: %s", where, error)


def parse_or_skip(raw: bytes, where: str, skipped: Skipped) -> Mapping[str, Any] | None:
    """The event in `raw` when the contract accepts it; otherwise None, counted in `skipped` with
    `where` (the file and place the reason names)."""
    try:
        return parse_event_fast(raw)
    except ValidationError as error:
        skipped.add(where, error)
        return None


def decode(directory: Path, offset: int, payload: bytes, skipped: Skipped) -> Mapping[str, Any] | None:
    return parse_or_skip(payload, f"event log {directory}: record at offset {offset}", skipped)


def events(directory: Path, skipped: Skipped, start: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every valid event from `start` to the log's current end, bad records skipped and counted."""
    if not directory.is_dir():
        return
    reader = LocalLog(directory)
    offset = max(start, reader.start_offset())
    while records := reader.read(offset, READ_BATCH):
        offset = records[-1][0] + 1
        for at, payload in records:
            event = decode(directory, at, payload, skipped)
            if event is not None:
                yield event


class LogTail:
    """Reads new records from the log, starting near its end (a dashboard needs the recent past only)."""

    def __init__(self, directory: Path, backlog: int = 2000) -> None:
        self.directory = directory
        self._log: LocalLog | None = None
        self._offset: int | None = None
        self.backlog = backlog
        self.skipped = Skipped()

    def read(self, max_records: int = READ_BATCH) -> list[Mapping[str, Any]]:
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
        decoded = (decode(self.directory, offset, payload, self.skipped) for offset, payload in records)
        return [event for event in decoded if event is not None]


def consumed_offset(stream_state: Path) -> int | None:
    """The log offset the stream runner has checkpointed (everything before it is in its windows)."""
    try:
        checkpoint, _ = read_state(stream_state)
        return int(checkpoint["position"]) if checkpoint is not None else None
    except (KeyError, TypeError, ValueError):  # StateError is a ValueError: a corrupt checkpoint trims nothing
        return None


def trim(directory: Path, before_offset: int) -> int:
    """Deletes whole log segments below `before_offset`; returns how many went."""
    return LocalLog(directory).delete_before(before_offset)


class Refused:
    """The stream runner's dead letters (records of the log it refused: a wrong clock, a bad record), read as
    it writes them, from the end the file had when the box started. A file cut back to the runner's
    checkpoint (after its crash) is followed there; the letters written again are not told twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = self._size()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read(self) -> list[DeadLetter]:
        size = self._size()
        self._offset = min(self._offset, size)
        if size == self._offset:
            return []
        complete, self._offset = complete_lines(self.path, self._offset)
        letters = []
        for line in complete.splitlines():
            try:
                letters.append(DeadLetter.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # not a letter this box can read: the file keeps it
        return letters


def describe_refused(letters: list[DeadLetter]) -> str:
    """'3 events: event_time_out_of_range x3 (event_time_ms: 312 s in the future (limit 300 s))', one reason a code."""
    by_code: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        by_code.setdefault(letter.code, []).append(letter)
    parts = []
    for code, group in by_code.items():
        first = group[0].reasons[0] if group[0].reasons else ("", "")
        parts.append(f"{code} x{len(group)} ({first[0]}: {first[1]})" if first[0] else f"{code} x{len(group)}")
    return f"{len(letters)} event{'s' if len(letters) != 1 else ''}: {'; '.join(parts)}"
