"""Bad input goes to the dead letters with its reasons; good input passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stream.deadletter import DeadLetter, JsonlDeadLetterSink
from stream.ingest import IngestConfig, check, ingest
from tests.schemas.events import face_expression, sentiment_window
from tests.stream.helpers import T0, beat, face

NOW = T0


def encoded(**overrides: Any) -> bytes:
    return json.dumps(face(T0, **overrides)).encode()


def without(name: str) -> bytes:
    event = face(T0)
    del event[name]
    return json.dumps(event).encode()


BAD: list[tuple[str, bytes, str, str]] = [
    ("malformed JSON", b'{"schema": "face_expression",', "$", "malformed JSON"),
    ("not UTF-8", b"\xff\xfe{}", "$", "malformed JSON"),
    ("not an object", b"[1, 2]", "$", "must be a JSON object"),
    ("unknown major version", encoded().replace(b'"1.0"', b'"2.0"', 1), "schema_version", "major version 2"),
    ("missing field", without("track_id"), "track_id", "is required"),
    ("NaN", encoded().replace(b'"valence": 1.0', b'"valence": NaN'), "$", "NaN is not valid JSON"),
    ("probability out of range", json.dumps(face_expression(
        probabilities={"angry": 1.5, "disgust": 0, "fear": 0, "happy": 0, "sad": 0, "surprise": 0,
                       "neutral": -0.5})).encode(), "probabilities.angry", "above the maximum"),
    ("far future", json.dumps(face(T0 + 86_400_000)).encode(),
     "event_time_ms", "in the future"),
    ("far past", json.dumps(face(T0 - 8 * 86_400_000)).encode(), "event_time_ms", "in the past"),
    ("over the size limit", json.dumps(face(T0, zone=None, padding="x" * 70_000)).encode(), "$",
     "over the limit"),
    ("not a stream input", json.dumps(sentiment_window()).encode(), "schema", "not a stream input"),
]


@pytest.mark.parametrize(("name", "raw", "path", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_records_are_refused_with_their_reason(name: str, raw: bytes, path: str, reason: str) -> None:
    event, problems = check(raw, NOW)
    assert event is None
    assert any(p == path and reason in r for p, r in problems), problems


@pytest.mark.parametrize("raw", [json.dumps(face(T0)).encode(), json.dumps(beat(T0 + 60_000)).encode(),
                                 json.dumps(face(T0 - 86_400_000)).encode()])
def test_good_records_pass(raw: bytes) -> None:
    event, problems = check(raw, NOW)
    assert problems == [] and event == json.loads(raw)


def test_time_checks_are_skipped_without_a_clock_and_limits_are_configurable() -> None:
    future = json.dumps(face(T0 + 86_400_000)).encode()
    assert check(future, None)[0] is not None
    assert check(future, NOW, IngestConfig(max_future_ms=2 * 86_400_000))[0] is not None


def test_ingest_keeps_order_and_every_letter_reaches_the_sink(tmp_path: Path) -> None:
    records = [(f"log@{i}", raw) for i, (_, raw, _, _) in enumerate(BAD)] + [("log@99", encoded())]
    events, letters = ingest(records, NOW)
    assert len(events) == 1 and [letter.source for letter in letters] == [f"log@{i}" for i in range(len(BAD))]
    sink = JsonlDeadLetterSink(tmp_path / "dead.jsonl")
    sink.put(letters)
    sink.close()
    stored = [DeadLetter.from_json(json.loads(line)) for line in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert stored == letters  # payloads kept byte for byte, non-UTF-8 included
