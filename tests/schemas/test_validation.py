"""Every problem is reported with its field path; minor versions pass, unknown majors fail."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from schemas.validation import ValidationError, parse_event, validate_event
from tests.schemas.events import SAMPLES, face_expression


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_are_valid(name: str) -> None:
    assert validate_event(SAMPLES[name]()) == []


def without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


def with_value(path: str, value: Any) -> dict[str, Any]:
    event = face_expression()
    *parents, leaf = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    target[leaf] = value
    return event


INVALID = [
    ("missing field", without(face_expression(), "site_id"), [("site_id", "is required")]),
    ("missing nested", without(face_expression(), "box", "w"), [("box.w", "is required")]),
    ("out of range", with_value("box.x", 1.5), [("box.x", "above the maximum 1")]),
    ("negative probability", with_value("probabilities.sad", -0.1),
     [("probabilities.sad", "below the minimum 0"), ("probabilities", "must sum to 1")]),
    ("probabilities off", with_value("probabilities.happy", 0.2), [("probabilities", "must sum to 1")]),
    ("NaN", with_value("valence", math.nan), [("valence", "must be finite")]),
    ("bool is no integer", with_value("quality.face_px", True), [("quality.face_px", "must be an integer")]),
    ("far future", with_value("event_time_ms", 9_999_999_999_999), [("event_time_ms", "above the maximum")]),
    ("seconds not ms", with_value("event_time_ms", 1_790_000_000), [("event_time_ms", "below the minimum")]),
    ("bad enum", with_value("kind", "track_start"), [("kind", "must be one of track_update, track_end")]),
    ("bad id", with_value("event_id", "not-a-ulid"), [("event_id", "does not match")]),
    ("track_end needs summary", with_value("kind", "track_end"),
     [("duration_ms", "is required when kind is track_end"), ("frame_count", "is required when kind is")]),
    ("null not allowed", with_value("camera_id", None), [("camera_id", "must not be null")]),
    ("wrong type", with_value("box", [0, 0, 1, 1]), [("box", "must be an object")]),
    ("unknown major", with_value("schema_version", "2.0"), [("schema_version", "unsupported major version 2")]),
    ("unknown schema", with_value("schema", "face_embedding"), [("schema", "unknown event schema")]),
]


@pytest.mark.parametrize(("case", "event", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_events_name_field_and_reason(case: str, event: dict[str, Any],
                                              expected: list[tuple[str, str]]) -> None:
    problems = validate_event(event)
    assert [p.path for p in problems] == [path for path, _ in expected]
    for problem, (_, reason) in zip(problems, expected, strict=True):
        assert reason in problem.reason


def test_all_problems_are_listed_at_once() -> None:
    event = without(face_expression(track_id=7, valence=3.0), "edge_version")
    event["probabilities"]["fear"] = "high"
    paths = {p.path for p in validate_event(event)}
    assert paths == {"track_id", "valence", "edge_version", "probabilities.fear"}


def test_newer_minor_version_is_accepted_and_unknown_fields_kept() -> None:
    event = face_expression(schema_version="1.7", gaze={"yaw": 3.0})
    parsed = parse_event(json.dumps(event))
    assert parsed["gaze"] == {"yaw": 3.0}


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"schema": "face_expression", ', "malformed JSON"),
    ('{"valence": NaN}', "malformed JSON"),
    (b"\xff\xfe", "malformed JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_undecodable_records_raise_with_reason(raw: str | bytes, reason: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_event(raw)
    assert reason in str(error.value)


def test_oversized_record_is_rejected_before_decoding() -> None:
    raw = json.dumps(face_expression(padding="x" * 2000))
    with pytest.raises(ValidationError, match="over the limit of 1000"):
        parse_event(raw, max_bytes=1000)
