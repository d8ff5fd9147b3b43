"""Bad input goes to the dead letters with its reasons; good input passes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.deadletter import MAX_PAYLOAD_BYTES, DeadLetter, JsonlDeadLetterSink
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


BAD: list[tuple[str, bytes, str, str, str]] = [
    ("malformed JSON", b'{"schema": "face_expression",', "$", "malformed JSON", "malformed_json"),
    ("not UTF-8", b"\xff\xfe{}", "$", "malformed JSON", "bad_encoding"),
    ("byte-order mark", b"\xef\xbb\xbf" + encoded(), "$", "byte-order mark", "bad_encoding"),
    ("lone surrogate", encoded(note="\ud800"), "$", "surrogate", "bad_encoding"),
    ("not an object", b"[1, 2]", "$", "must be a JSON object", "malformed_json"),
    ("unknown schema", encoded().replace(b'"face_expression"', b'"face_expressions"', 1), "schema",
     "unknown event schema", "unknown_schema"),
    ("unknown major version", encoded().replace(b'"1.0"', b'"2.0"', 1), "schema_version", "major version 2",
     "unsupported_major_version"),
    ("missing field", without("track_id"), "track_id", "is required", "missing_field"),
    ("NaN", encoded().replace(b'"valence": 1.0', b'"valence": NaN'), "$", "NaN is not valid JSON", "malformed_json"),
    ("probability out of range", json.dumps(face_expression(
        probabilities={"angry": 1.5, "disgust": 0, "fear": 0, "happy": 0, "sad": 0, "surprise": 0,
                       "neutral": -0.5})).encode(), "probabilities.angry", "above the maximum", "invalid_field"),
    ("far future", json.dumps(face(T0 + 86_400_000)).encode(),
     "event_time_ms", "in the future", "event_time_out_of_range"),
    ("far past", json.dumps(face(T0 - 8 * 86_400_000)).encode(), "event_time_ms", "in the past",
     "event_time_out_of_range"),
    ("over the size limit", json.dumps(face(T0, zone=None, padding="x" * 70_000)).encode(), "$",
     "over the limit", "too_large"),
    ("not a stream input", json.dumps(sentiment_window()).encode(), "schema", "not a stream input", "unknown_schema"),
]


@pytest.mark.parametrize(("name", "raw", "path", "reason", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_records_are_refused_with_their_reason_and_code(name: str, raw: bytes, path: str, reason: str,
                                                            code: str) -> None:
    event, problems = check(raw, NOW)
    assert event is None
    assert any(p.path == path and reason in p.reason for p in problems), problems
    [letter] = ingest([("log@1", raw)], NOW)[1]
    assert letter.code == code
    assert DeadLetter.from_json(json.loads(json.dumps(letter.to_json()))).code == code


def test_a_missing_field_names_the_letter_even_after_an_invalid_one() -> None:
    event = face(T0, site="bad site")
    del event["track_id"]  # declared after site_id: its problem comes second
    [letter] = ingest([("log@1", json.dumps(event).encode())], NOW)[1]
    assert [path for path, _ in letter.reasons] == ["site_id", "track_id"]
    assert letter.code == "missing_field"


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
    records = [(f"log@{i}", raw) for i, (_, raw, _, _, _) in enumerate(BAD)] + [("log@99", encoded())]
    events, letters = ingest(records, NOW)
    assert len(events) == 1 and [letter.source for letter in letters] == [f"log@{i}" for i in range(len(BAD))]
    sink = JsonlDeadLetterSink(tmp_path / "dead.jsonl")
    sink.put(letters)
    sink.close()
    documents = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    stored = [DeadLetter.from_json(document) for document in documents]
    for document, kept, letter in zip(documents, stored, letters, strict=True):
        assert document["payload_bytes"] == len(letter.payload)
        assert document["payload_sha256"] == hashlib.sha256(letter.payload).hexdigest()
        if document["payload_truncated"]:  # only the oversize record: a prefix, within the cap
            assert len(letter.payload) > MAX_PAYLOAD_BYTES and letter.payload.startswith(kept.payload)
        else:  # payloads kept byte for byte, non-UTF-8 included
            assert kept == letter


def test_an_unexpected_error_dead_letters_that_record_and_the_batch_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import stream.ingest as module

    real = module._DECODER.parse
    poison = encoded(note="poison")

    def flaky(raw: bytes | str, max_bytes: int | None = None) -> dict[str, Any]:
        if raw == poison:
            raise OverflowError("int too large to convert to float")
        return real(raw, max_bytes)

    monkeypatch.setattr(module._DECODER, "parse", flaky)
    good = encoded()
    events, letters = ingest([("log@0", good), ("log@1", poison), ("log@2", good)], NOW)
    assert len(events) == 2
    assert [(letter.source, letter.code) for letter in letters] == [("log@1", "internal_error")]
    assert letters[0].reasons == (("$", "unexpected OverflowError: int too large to convert to float"),)


def test_a_huge_integer_is_a_dead_letter_with_its_field() -> None:
    raw = encoded().replace(b'"sharpness": 100.0', b'"sharpness": 1' + b"0" * 400)
    event, problems = check(raw, NOW)
    assert event is None and problems[0].path == "quality.sharpness" and "out of range" in problems[0].reason


@pytest.mark.parametrize(("setting", "value"), [("max_bytes", 0), ("max_future_ms", -1), ("max_past_ms", 1.5)])
def test_ingest_settings_that_make_no_sense_are_refused(setting: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"ingest setting {setting} must be a positive integer"):
        IngestConfig(**{setting: value})


def test_a_dead_letter_keeps_a_bounded_prefix_with_the_original_size_and_hash() -> None:
    payload = b"\x01" * 500_000
    document = DeadLetter(payload, (("$", "malformed JSON"),), "log@1", "malformed_json").to_json()
    assert len(json.dumps(document)) < MAX_PAYLOAD_BYTES + 2_000
    assert document["payload_truncated"] and document["payload_bytes"] == len(payload)
    assert document["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert document["code"] == "malformed_json"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(range(len(BAD) + 3)), max_size=30),
       st.sampled_from([None, NOW, NOW + 86_400_000 - 60_000]))
def test_a_batch_gives_each_record_what_check_gives_it_in_order(picks: list[int], now: int | None) -> None:
    """ingest takes what the decoder proves valid at once: the same events and letters, in the same order,
    as checking each record on its own (edges of the time range included)."""
    edge_of_range = [json.dumps(face(T0 + 5 * 60_000)).encode(), json.dumps(face(T0 - 7 * 86_400_000)).encode(),
                     json.dumps(beat(T0 + 1)).encode()]
    raws = [(BAD[i][1] if i < len(BAD) else edge_of_range[i - len(BAD)]) for i in picks]
    records = [(f"log@{n}", raw) for n, raw in enumerate(raws)]
    events, letters = ingest(records, now)
    expected = [(source, raw, *check(raw, now)) for source, raw in records]
    assert events == [event for _, _, event, _ in expected if event is not None]
    assert letters == [DeadLetter.of(raw, problems, source)
                       for source, raw, event, problems in expected if event is None]
