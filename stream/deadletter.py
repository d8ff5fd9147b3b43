"""The dead-letter place: records the stream cannot use, kept with every reason, never blocking.

``DeadLetterSink`` is the protocol each host implements: the embedded host writes JSON Lines
(``JsonlDeadLetterSink``), the AWS host sends to SQS (``stream.sinks.sqs``). A sink gets whole batches
so it can batch its writes.

A letter is bounded whatever it carries: the payload it keeps is cut to ``max_payload_bytes``
*after* JSON encoding (a record of control characters grows six-fold when escaped), with the
original's size and SHA-256 beside it so it can be matched with a copy kept elsewhere; at most
``MAX_REASONS`` reasons of at most ``MAX_REASON_CHARS`` characters each. ``code`` is a short
label of the cause (`letter_code`, from the validators' codes) for counting and alerting.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from schemas.validation import Code, Problem
from stream.jsonl import AppendFile

MAX_PAYLOAD_BYTES = 64 * 1024  # of the encoded payload kept in a letter (JSON-escaped text or base64)
MAX_REASONS = 50
MAX_REASON_CHARS = 1000
MAX_SOURCE_CHARS = 512
# The stream's own codes, beside the contract's (`schemas.validation.Code`).
INTERNAL_ERROR = "internal_error"
EVENT_TIME_OUT_OF_RANGE = "event_time_out_of_range"


def letter_code(problems: Sequence[Problem]) -> str:
    """The letter's one label: the first problem's code, except that among field problems a missing
    field counts before an invalid one."""
    if not problems:
        return Code.INVALID_FIELD
    first = problems[0].code
    if first not in (Code.INVALID_FIELD, Code.MISSING_FIELD):
        return first
    return Code.MISSING_FIELD if any(p.code == Code.MISSING_FIELD for p in problems) else Code.INVALID_FIELD


def _encoded_size(text: str) -> int:
    return len(json.dumps(text)) - 2  # as the sinks write it (ASCII escapes), without the quotes


def _text_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose JSON encoding fits ``limit`` bytes."""
    if len(text) * 12 <= limit or _encoded_size(text) <= limit:  # no character encodes to more than 12
        return text
    low, high = 0, min(len(text), limit)  # every character costs at least one byte
    while low < high:
        middle = (low + high + 1) // 2
        if _encoded_size(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


@dataclass(frozen=True)
class DeadLetter:
    payload: bytes  # the record exactly as received
    reasons: tuple[tuple[str, str], ...]  # (field path, reason), every problem found
    source: str  # where it came from, e.g. "locallog:/data/events@1234" or "kinesis:shard-0001@4958..."
    code: str  # a label of the cause, for counting and alerting (`letter_code`)

    @classmethod
    def of(cls, payload: bytes, problems: Sequence[Problem], source: str) -> DeadLetter:
        return cls(payload, tuple((p.path, p.reason) for p in problems), source, letter_code(problems))

    def to_json(self, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
        """The letter as a bounded JSON document: the encoded payload kept is at most ``max_payload_bytes``."""
        reasons = [{"path": p[:MAX_REASON_CHARS], "reason": r[:MAX_REASON_CHARS]}
                   for p, r in self.reasons[:MAX_REASONS]]
        if len(self.reasons) > MAX_REASONS:
            reasons.append({"path": "$", "reason": f"and {len(self.reasons) - MAX_REASONS} more problems"})
        document: dict[str, Any] = {"source": self.source[:MAX_SOURCE_CHARS], "code": self.code,
                                    "reasons": reasons}
        try:
            text = self.payload.decode("utf-8")
        except UnicodeDecodeError:
            kept = self.payload[:max_payload_bytes // 4 * 3]
            document["payload_base64"] = base64.b64encode(kept).decode("ascii")
            truncated = len(kept) < len(self.payload)
        else:
            prefix = _text_prefix(text, max_payload_bytes)
            document["payload"] = prefix
            truncated = len(prefix) < len(text)
        document.update({"payload_bytes": len(self.payload),
                         "payload_sha256": hashlib.sha256(self.payload).hexdigest(),
                         "payload_truncated": truncated})
        return document

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadLetter:
        payload = (data["payload"].encode() if "payload" in data
                   else base64.b64decode(data["payload_base64"]))
        return cls(payload, tuple((r["path"], r["reason"]) for r in data["reasons"]), data["source"], data["code"])


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
