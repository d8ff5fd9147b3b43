"""The dead-letter place: records the stream cannot use, kept with every reason, never blocking.

``DeadLetterSink`` is the protocol each host implements: the embedded host writes JSON Lines
(``JsonlDeadLetterSink``), the AWS host sends to SQS (``stream/aws``). A sink gets whole batches
so it can batch its writes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stream.jsonl import AppendFile


@dataclass(frozen=True)
class DeadLetter:
    payload: bytes  # the record exactly as received
    reasons: tuple[tuple[str, str], ...]  # (field path, reason), every problem found
    source: str  # where it came from, e.g. "locallog:/data/events@1234" or "kinesis:shard-0001@4958..."

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"source": self.source,
                                    "reasons": [{"path": p, "reason": r} for p, r in self.reasons]}
        try:
            document["payload"] = self.payload.decode("utf-8")
        except UnicodeDecodeError:
            document["payload_base64"] = base64.b64encode(self.payload).decode("ascii")
        return document

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadLetter:
        payload = (data["payload"].encode() if "payload" in data
                   else base64.b64decode(data["payload_base64"]))
        return cls(payload, tuple((r["path"], r["reason"]) for r in data["reasons"]), data["source"])


class DeadLetterSink(Protocol):
    def put(self, letters: Sequence[DeadLetter]) -> None:
        """Stores the letters; must not raise for a letter's content (any bytes, any size)."""


class JsonlDeadLetterSink:
    """Embedded mode: one JSON document per letter in a local file (fsync'd with the checkpoint)."""

    def __init__(self, path: Path) -> None:
        self.file = AppendFile(path)
        self.count = 0

    @classmethod
    def on(cls, file: AppendFile) -> JsonlDeadLetterSink:
        """A sink writing to an already open file (the embedded runner's, truncated with its checkpoint)."""
        sink = cls.__new__(cls)
        sink.file, sink.count = file, 0
        return sink

    def put(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self.file.write(letter.to_json() for letter in letters)
            self.count += len(letters)

    def close(self) -> None:
        self.file.close()
