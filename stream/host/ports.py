"""The host's ports: where records come from, where state lives, where outputs go.

Adapters: sources (``stream.sources``: local log, Kinesis), state stores (``stream.state``: local
folder, S3 with conditional writes), outputs (``stream.sinks``: local files; Firehose, SNS,
EventBridge, CloudWatch, SQS dead letters). The host (``stream.host.loop``) knows only these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stream.deadletter import DeadLetter
from stream.host.sites import Emitted


@dataclass(frozen=True, slots=True)  # made per record: no __dict__ to allocate, build or read
class SourceRecord:
    partition: str  # a log, a Kinesis shard: positions are ordered within it
    position: int  # offset, sequence number
    data: bytes
    label: str  # where it came from, for dead letters: "locallog:/data@12", "kinesis:s/shard-0@4958..."


class Source(Protocol):
    name: str  # what the checkpoint belongs to: a checkpoint of another source is refused

    def seek(self, position: Any) -> None:
        """Resumes after ``position`` (from the checkpoint; None: from the start)."""

    def poll(self, max_records: int) -> list[SourceRecord]:
        """The next records (empty: nothing new now)."""

    def position(self) -> Any:
        """JSON-able position after the last polled record, for the checkpoint."""


class StateStore(Protocol):
    where: str  # for messages: a folder, s3://bucket/prefix
    atomic: bool  # sites and position stored in one atomic write: outputs can be cut back to match

    def load(self) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """(host checkpoint or None before the first one, site states by site)."""

    def claim(self) -> bool:
        """Makes the state just loaded this host's before its first write (S3: the next epoch, a
        conditional write; a local folder: its lock is already held). False: another consumer wrote
        it since ``load``; load again."""

    def commit(self, checkpoint: Mapping[str, Any], sites: Mapping[str, Mapping[str, Any]]) -> None:
        """Stores the changed sites' states and the host checkpoint; raises ``FencedError``, having
        written nothing, when another consumer has taken the state over."""

    def site_where(self, site: str) -> str:
        """The file or object holding a site's state (for error messages)."""

    def close(self) -> None:
        """Lets go of the state (a folder's lock); writes nothing."""


class Outputs(Protocol):
    def restore(self, positions: Mapping[str, Any]) -> None:
        """Back to a checkpoint: drops what was written after it where the sink can (local files)."""

    def write(self, emitted: Emitted, letters: Sequence[DeadLetter]) -> None: ...

    def flush(self) -> dict[str, Any]:
        """Makes everything written durable (fsync, delivered); returns positions for the checkpoint."""

    def close(self) -> None: ...


class FencedError(RuntimeError):
    """Another consumer has taken the state over since this one claimed it: stop, write nothing."""
