"""Transport into the embedded default's local log (moodlens.locallog), which the stream consumer reads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge.publish.ports import BatchLimits, OutboundRecord, TransportUnavailable
from moodlens.locallog import LocalLog


class LocalLogTransport:
    name = "local-log"
    limits = BatchLimits(max_records=1000, max_bytes=4 * 1024 * 1024, max_record_bytes=1024 * 1024)

    def __init__(self, log: LocalLog | Path | str) -> None:
        self.log = log if isinstance(log, LocalLog) else LocalLog(log)

    def send(self, records: Sequence[OutboundRecord]) -> list[int]:
        try:
            # append is all-or-nothing from the reader's side only line by line, so a failure part-way
            # can leave a prefix written: those are re-sent, a duplicate that event_id makes harmless.
            self.log.append([record.payload for record in records])
        except OSError as error:  # disk full, directory gone: keep the events spooled and retry
            raise TransportUnavailable(f"local log {self.log.directory}: {error}") from error
        return []

    def close(self) -> None:
        self.log.close()
