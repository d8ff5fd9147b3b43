"""The SQS dead-letter sink (the AWS variant of `stream.deadletter.DeadLetterSink`): records that can
never be processed (schema-invalid, oversized, out of time range) go to a queue with every reason and
where they came from, so the shard moves on.

Message body: `DeadLetter.to_json()` (source, code, reasons, payload as text or payload_base64,
    "payload_bytes": original size, "payload_sha256": of the original, "payload_truncated": bool) plus
    "dead_lettered_at_ms": when it was sent.
Message attribute: source. A payload whose *encoding* is over `max_payload_bytes` is cut (its size and
SHA-256 are kept to match it with the stream's copy): SQS takes 256 KiB per message and per
SendMessageBatch call (1 MiB since 2025 in most regions; we stay under the older limit). The cut is
measured after JSON escaping, so a record of control characters cannot grow past the limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from stream.deadletter import DeadLetter

MAX_SQS_MESSAGE_BYTES = 256 * 1024
MAX_BATCH_ENTRIES = 10
DEFAULT_MAX_PAYLOAD_BYTES = 192 * 1024  # of the encoded payload: leaves 64 KiB for reasons and source
_ATTRIBUTE_BYTES = 1024
_ENVELOPE_BYTES = 64 * 1024  # reasons (<= 50 x 1000 characters, escaped) + source + fixed fields


class DeadLetterDeliveryError(RuntimeError):
    def __init__(self, unsent: Sequence[DeadLetter], why: str) -> None:
        self.unsent = list(unsent)
        super().__init__(f"{len(self.unsent)} dead letters not delivered: {why}")


def dead_letter_body(letter: DeadLetter, now_ms: int, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> str:
    """The SQS message body (ASCII JSON, so its length in characters is its length in bytes)."""
    body = letter.to_json(max_payload_bytes)
    body["dead_lettered_at_ms"] = now_ms
    text = json.dumps(body, separators=(",", ":"))
    if len(text) + _ATTRIBUTE_BYTES > MAX_SQS_MESSAGE_BYTES:  # reasons escaped beyond the envelope: drop them
        body["reasons"] = [{"path": "$", "reason": f"{len(letter.reasons)} reasons, too long to keep"}]
        text = json.dumps(body, separators=(",", ":"))
    return text


class SqsDeadLetterSink:
    """Sends dead letters with SendMessageBatch. `send` returns the letters SQS did not take, so the
    host can report their records for retry instead of losing them; `put` (the DeadLetterSink protocol)
    raises DeadLetterDeliveryError for them instead."""

    def __init__(self, client: Any, queue_url: str, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        if max_payload_bytes + _ENVELOPE_BYTES > MAX_SQS_MESSAGE_BYTES:
            raise ValueError(f"max_payload_bytes {max_payload_bytes} would not fit an SQS message")
        self.client = client
        self.queue_url = queue_url
        self.max_payload_bytes = max_payload_bytes
        self.clock_ms = clock_ms
        self.sent = 0

    def _groups(self, letters: Sequence[DeadLetter], now: int) -> list[list[tuple[DeadLetter, str]]]:
        """At most 10 entries and 256 KiB of messages per SendMessageBatch (the limit is on the sum)."""
        groups: list[list[tuple[DeadLetter, str]]] = []
        size = 0
        for letter in letters:
            body = dead_letter_body(letter, now, self.max_payload_bytes)
            cost = len(body.encode()) + _ATTRIBUTE_BYTES
            if not groups or len(groups[-1]) >= MAX_BATCH_ENTRIES or size + cost > MAX_SQS_MESSAGE_BYTES:
                groups.append([])
                size = 0
            groups[-1].append((letter, body))
            size += cost
        return groups

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        unsent: list[DeadLetter] = []
        for group in self._groups(letters, self.clock_ms()):
            entries = [{"Id": str(i), "MessageBody": body,
                        "MessageAttributes": {"source": {"DataType": "String",
                                                         "StringValue": letter.source[:512] or "unknown"}}}
                       for i, (letter, body) in enumerate(group)]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception:  # the whole call failed: every letter in it is retried via its record
                unsent.extend(letter for letter, _ in group)
                continue
            for failure in response.get("Failed", []):
                unsent.append(group[int(failure["Id"])][0])
            self.sent += len(response.get("Successful", []))
        return unsent

    def put(self, letters: Sequence[DeadLetter]) -> None:
        unsent = self.send(letters)
        if unsent:
            raise DeadLetterDeliveryError(unsent, "SQS did not take them")
