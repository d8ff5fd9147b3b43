"""The SQS dead-letter sink: message body, truncation, SendMessageBatch limits, against moto SQS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stream.deadletter import DeadLetter
from stream.sinks.sqs import (
    MAX_BATCH_ENTRIES,
    MAX_SQS_MESSAGE_BYTES,
    DeadLetterDeliveryError,
    SqsDeadLetterSink,
    dead_letter_body,
)


def letter(size: int, i: int = 0) -> DeadLetter:
    return DeadLetter(b"x" * size, (("$", "malformed JSON: boom"),), f"kinesis:s/shardId-0@{i}", "malformed_json")


@pytest.mark.parametrize(("payload", "limit", "truncated", "text"), [
    (b'{"a": 1', 1000, False, True),
    (b"\xff\xfe binary", 1000, False, False),
    (b"y" * 5000, 1000, True, True),
])
def test_body_keeps_reasons_source_and_the_payload_or_its_fingerprint(
        payload: bytes, limit: int, truncated: bool, text: bool) -> None:
    letter = DeadLetter(payload, (("$", "bad"),), "kinesis:s/x@1", "malformed_json")
    body = json.loads(dead_letter_body(letter, 7, limit))
    assert body["reasons"] == [{"path": "$", "reason": "bad"}]
    assert body["source"] == "kinesis:s/x@1"
    assert body["payload_bytes"] == len(payload)
    assert body["payload_truncated"] is truncated
    assert ("payload" in body) is text
    kept = DeadLetter.from_json(body).payload
    assert kept == payload[:limit]


@pytest.mark.parametrize(("count", "size", "max_group"), [
    (25, 10, MAX_BATCH_ENTRIES),  # small: 10 per call
    (6, 100 * 1024, 2),  # ~100 KiB each (text): two per call, the sum limit binds
    (4, 40 * 1024, 4),
])
def test_groups_respect_entry_and_total_size_limits(count: int, size: int, max_group: int) -> None:
    sink = SqsDeadLetterSink(client=None, queue_url="q")
    groups = sink._groups([letter(size, i) for i in range(count)], now=0)
    assert sum(len(g) for g in groups) == count
    assert max(len(g) for g in groups) == max_group
    for group in groups:
        assert sum(len(body.encode()) for _, body in group) <= MAX_SQS_MESSAGE_BYTES


def test_every_letter_arrives_in_moto_sqs(aws_client: Callable[[str], Any], unique: str) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"dlq-{unique}")["QueueUrl"]
    sink = SqsDeadLetterSink(sqs, url)
    letters = [letter(10, i) for i in range(13)] + [letter(200 * 1024, 99)]
    assert sink.send(letters) == []
    bodies = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in got:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(b["source"] for b in bodies) == sorted(x.source for x in letters)
    assert [b["payload_truncated"] for b in bodies if b["source"].endswith("@99")] == [True]


def test_put_raises_with_the_unsent_letters() -> None:
    class Refusing:
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            return {"Successful": [{"Id": "0"}], "Failed": [{"Id": e["Id"]} for e in Entries[1:]]}

    letters = [letter(5, i) for i in range(3)]
    with pytest.raises(DeadLetterDeliveryError) as caught:
        SqsDeadLetterSink(Refusing(), "q").put(letters)
    assert caught.value.unsent == letters[1:]


@pytest.mark.parametrize("payload", [
    b"\x01" * 50_000,  # each byte escapes to 6 (\u0001): 300,000 bytes if cut before escaping
    "\U0001F600".encode() * 100_000,  # 12 escaped bytes per 4 raw
    b"\xff" * 300_000,  # not UTF-8: base64
])
def test_a_body_stays_under_the_sqs_limit_whatever_the_payload(payload: bytes) -> None:
    letter = DeadLetter(payload, tuple(("$", "r" * 5000) for _ in range(200)), "k@1", "malformed_json")
    body = dead_letter_body(letter, 7)
    assert len(body.encode()) <= MAX_SQS_MESSAGE_BYTES - 1024
    document = json.loads(body)
    assert document["payload_truncated"] is True and document["payload_bytes"] == len(payload)
    assert payload.startswith(DeadLetter.from_json(document).payload)
