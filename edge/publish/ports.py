"""What the delivery side is made of, as small interfaces: a spool that keeps events, a transport that sends.

Pure logic (`SpoolingPublisher`) depends on these only; SQLite, boto3 and paho live in the adapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundRecord:
    """One serialised event waiting for delivery, with what transports route it by."""

    seq: int  # the spool's order; acks name records by it
    payload: bytes  # compact JSON, one line
    site_id: str
    camera_id: str | None
    enqueued_ms: int = 0


@dataclass(frozen=True)
class BatchLimits:
    """The most one `Transport.send` call takes, and the largest single record it can carry."""

    max_records: int
    max_bytes: int
    max_record_bytes: int


class TransportUnavailable(Exception):  # noqa: N818 - reads as a state, like ConnectionRefused
    """Nothing in the batch was delivered (network down, broker refused us, whole call throttled).

    Retryable: the records stay in the spool and the publisher tries again after a backoff.
    """


class TransportThrottled(TransportUnavailable):
    """The service asked us to slow down for the whole call."""


class Transport(Protocol):
    """Sends a batch and says which records did not make it."""

    name: str
    limits: BatchLimits

    def send(self, records: Sequence[OutboundRecord]) -> list[int]:
        """Delivers records; returns the indices (into `records`) that failed and may be retried.

        Returning means every other record is delivered (durably accepted by the other side).
        Raises `TransportUnavailable` when none was.
        """
        ...

    def close(self) -> None: ...


class Spool(Protocol):
    """A durable FIFO of records, bounded, dropping the oldest when full."""

    def put(self, payload: bytes, site_id: str, camera_id: str | None) -> int: ...

    def peek(self, max_records: int, max_bytes: int) -> list[OutboundRecord]: ...

    def ack(self, seqs: Sequence[int]) -> None: ...

    def depth(self) -> int: ...

    @property
    def dropped_count(self) -> int: ...
