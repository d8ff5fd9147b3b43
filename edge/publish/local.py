"""Transport into the embedded default's local log (`locallog`), which the stream consumer reads.

Given a folder, the transport shares the log with the other edges of the box (`moodlens up` runs one
edge process per camera): each batch opens the log, appends under its writer lock and closes it, so
the lock is held for one write and fsync. A writer that finds the lock taken retries briefly, then
reports the log unavailable and the events stay spooled. Shared logs use smaller segments because
opening one re-reads its last segment to find the end. Given a `LocalLog`, the transport keeps it
(and its lock) for its lifetime: that log is this writer's alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from edge.publish.ports import BatchLimits, OutboundRecord, TransportUnavailable
from locallog import LocalLog, LogLockedError, ProducerClaim, claim
from schemas.contract import MAX_RECORD_BYTES

SHARED_SEGMENT_BYTES = 8 * 1024 * 1024
LOCK_WAIT_S = 2.0


class LocalLogTransport:
    name = "local-log"
    # The log takes any size; its reader, the stream, takes records up to the contract's limit.
    limits = BatchLimits(max_records=1000, max_bytes=4 * 1024 * 1024, max_record_bytes=MAX_RECORD_BYTES)

    def __init__(self, log: LocalLog | Path | str, producer: str | None = None) -> None:
        self.shared = not isinstance(log, LocalLog)
        self.log = LocalLog(log, SHARED_SEGMENT_BYTES) if not isinstance(log, LocalLog) else log
        self.claim: ProducerClaim | None = None
        if producer is not None:  # this camera's edge, once: a second copy would log every face twice
            try:
                self.claim = claim(self.log.directory, producer)
            except LogLockedError as error:
                raise ValueError(str(error)) from None

    def send(self, records: Sequence[OutboundRecord]) -> list[int]:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                # append is all or nothing: on a failure (a full disk) it cuts the log back to the last
                # acknowledged record and raises, so nothing is acknowledged that a reader cannot read,
                # and the publisher keeps the whole batch spooled. (Should even that cut fail, the lines
                # it left are sent again: a duplicate that event_id makes harmless.)
                self.log.append([record.payload for record in records])
                break
            except LogLockedError as error:  # another edge is appending right now
                if not self.shared or time.monotonic() > deadline:
                    raise TransportUnavailable(f"local log {self.log.directory}: {error}") from error
                time.sleep(0.005)
            except OSError as error:  # disk full, directory gone: keep the events spooled and retry
                raise TransportUnavailable(f"local log {self.log.directory}: {error}") from error
            finally:
                if self.shared:
                    self.log.close()  # releases the writer lock for the box's other edges
        return []

    def close(self) -> None:
        self.log.close()
        if self.claim is not None:
            self.claim.release()
