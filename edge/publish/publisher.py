"""`publish(event)` for the pipeline: into the spool at once, then delivered by a drainer with retries.

Delivery is at least once: an event leaves the spool only after the transport said it was accepted, so
a crash between the two sends it again. Consumers deduplicate on `event_id`.

Order: batches go out oldest first. A whole-batch failure (network down) keeps the order exactly; a
partial failure (Kinesis throttling some records) retries only the failed records, so those may arrive
after younger ones, as Kinesis itself allows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge.publish.backoff import Backoff
from edge.publish.ports import OutboundRecord, Spool, Transport, TransportUnavailable
from schemas.contract import MAX_RECORD_BYTES
from schemas.validation import size_problem

logger = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed_attempts: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    refused: int = 0  # events over the record limit: never spooled, so never sent
    last_refusal: str | None = None


@dataclass(frozen=True)
class DrainResult:
    delivered: int
    remaining: int
    error: str | None  # why this pass stopped early; None when the spool was emptied


def encode_event(event: Mapping[str, Any]) -> bytes:
    """Compact, one-line JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class SpoolingPublisher:
    def __init__(self, spool: Spool, transport: Transport, backoff: Backoff | None = None,
                 partial_retries: int = 5, idle_poll_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spool = spool
        self.transport = transport
        self.backoff = backoff or Backoff()
        self.partial_retries = partial_retries
        self.idle_poll_s = idle_poll_s
        self.stats = DeliveryStats()
        # The contract's limit, or the transport's where that is smaller: what the stream would
        # dead-letter, or the service refuse, is refused here, before it takes spool space.
        self.max_record_bytes = min(MAX_RECORD_BYTES, transport.limits.max_record_bytes)
        self._sleep = sleep
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- the sink port

    def publish(self, event: dict[str, Any]) -> None:
        """Spools one event durably; returns once it would survive a crash. Never waits on the network.

        An event over the record limit is refused: logged with its reason and counted in
        ``stats.refused``, not spooled; the camera goes on with the next one."""
        payload = encode_event(event)
        too_large = size_problem(len(payload), self.max_record_bytes)
        if too_large is not None:
            reason = (f"event {event.get('event_id')} ({event.get('schema')}) refused, not sent to "
                      f"{self.transport.name}: {too_large.reason} ({too_large.code})")
            logger.error("%s", reason)
            self.stats.refused += 1
            self.stats.last_refusal = reason
            return
        self.spool.put(payload, str(event["site_id"]), _optional_str(event.get("camera_id")))
        self._wake.set()

    # ---------------------------------------------------------------- delivery

    def drain(self) -> DrainResult:
        """Sends until the spool is empty or the transport is unavailable. The drainer thread loops on it."""
        delivered = 0
        limits = self.transport.limits
        while batch := self.spool.peek(limits.max_records, limits.max_bytes):
            try:
                delivered += self._send_with_partial_retries(batch)
            except TransportUnavailable as error:
                self._record_failure(str(error))
                return DrainResult(delivered, self.spool.depth(), str(error))
        return DrainResult(delivered, self.spool.depth(), None)

    def _send_with_partial_retries(self, batch: list[OutboundRecord]) -> int:
        pending = batch
        delivered = 0
        for attempt in range(self.partial_retries + 1):
            failed = set(self.transport.send(pending))
            if not failed <= set(range(len(pending))):
                # Acking around a bogus index would delete undelivered events: stop loudly instead.
                raise ValueError(f"{self.transport.name} reported failed index {max(failed)} "
                                 f"for a batch of {len(pending)}")
            accepted = [record.seq for index, record in enumerate(pending) if index not in failed]
            self.spool.ack(accepted)
            delivered += len(accepted)
            self.stats.delivered += len(accepted)
            self.stats.consecutive_failures = 0
            if not failed:
                return delivered
            pending = [pending[index] for index in sorted(failed)]
            if attempt < self.partial_retries:
                delay = self.backoff.delay(attempt)
                logger.warning("%s: %d of %d records failed, retrying only those in %.2fs",
                               self.transport.name, len(pending), len(batch), delay)
                self._sleep(delay)
        raise TransportUnavailable(f"{self.transport.name}: {len(pending)} records still failing after "
                                   f"{self.partial_retries} retries")

    def _record_failure(self, reason: str) -> None:
        self.stats.failed_attempts += 1
        self.stats.consecutive_failures += 1
        self.stats.last_error = reason

    # ---------------------------------------------------------------- background drainer

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="moodlens-drainer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the drainer; what is not delivered yet stays spooled for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def depth(self) -> int:
        """Events waiting in the spool (for the status line and heartbeats)."""
        return self.spool.depth()

    def close(self) -> None:
        """Stops the drainer, tries one last delivery, and closes the transport; the rest stays spooled, and
        the log says how many were not delivered (an edge that ends with its events undelivered must not
        read as done)."""
        self.stop()
        why = self.stats.last_error
        try:
            result = self.drain()
            why = result.error or why
        except Exception as error:
            logger.exception("%s: last delivery attempt failed; events stay spooled", self.transport.name)
            why = str(error)
        finally:
            self.transport.close()
        waiting = self.spool.depth()
        if waiting:
            logger.warning("%s: %d event%s not delivered (%s); kept in the spool %s, sent when the edge runs again "
                           "with %s reachable", self.transport.name, waiting, "" if waiting == 1 else "s",
                           why or "not reachable", getattr(self.spool, "path", "on this machine"),
                           self.transport.name)

    def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                result = self.drain()
            except Exception as error:  # a bug or an unexpected SDK error must not kill delivery for good
                logger.exception("%s: unexpected delivery error", self.transport.name)
                self._record_failure(f"{type(error).__name__}: {error}")
                result = DrainResult(0, self.spool.depth(), str(error))
            if self._stop.is_set():
                return
            if result.error is None:
                self._wake.wait(self.idle_poll_s)
                continue
            delay = self.backoff.delay(self.stats.consecutive_failures - 1)
            logger.warning("%s unavailable (%d failures in a row, %d events spooled), reconnecting in %.1fs: %s",
                           self.transport.name, self.stats.consecutive_failures, result.remaining, delay,
                           result.error)
            self._stop.wait(delay)  # new events must not cut a backoff short; only stop does
            if self._stop.is_set():
                return


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
