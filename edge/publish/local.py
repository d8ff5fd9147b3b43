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
            # append is all or nothing: on a failure (a full disk) it cuts the log back to the last
            # acknowledged record and raises, so nothing is acknowledged that a reader cannot read, and
            # the publisher keeps the whole batch spooled. (Should even that cut fail, the lines it left
            # are sent again: a duplicate that event_id makes harmless.)
            self.log.append([record.payload for record in records])
        except OSError as error:  # disk full, directory gone: keep the events spooled and retry
            raise TransportUnavailable(f"local log {self.log.directory}: {error}") from error
        return []

    def close(self) -> None:
        self.log.close()
