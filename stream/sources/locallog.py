"""The local event log as a host source: one partition, positions are record offsets."""

from __future__ import annotations

from typing import Any, Protocol

from stream.host.ports import SourceRecord


class LogReader(Protocol):
    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]: ...


class LocalLogSource:
    def __init__(self, log: LogReader, label: str = "locallog") -> None:
        self.log = log
        self.label = label
        self.name = "locallog"  # the checkpoint follows the folder, whatever path it is mounted at
        self.offset = 0

    def seek(self, position: Any) -> None:
        self.offset = 0 if position is None else int(position)

    def poll(self, max_records: int) -> list[SourceRecord]:
        records = self.log.read(self.offset, max_records)
        if records:
            self.offset = records[-1][0] + 1
        return [SourceRecord("locallog", offset, payload, f"{self.label}@{offset}") for offset, payload in records]

    def position(self) -> int:
        return self.offset
