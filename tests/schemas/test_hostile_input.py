"""Hostile input to the contract: huge numbers, ids with a trailing newline, byte-order marks, lone
surrogates. Each is refused with the field and the reason; none raises anything but ValidationError."""

from __future__ import annotations

import json

import pytest

from schemas.validation import (
    MAX_ABS_INTEGER,
    ValidationError,
    identifier_problem,
    parse_event,
    require_identifiers,
)
from tests.schemas.events import camera_heartbeat, face_expression


def problems_of(raw: bytes | str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        parse_event(raw)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(("path", "raw_number"), [
    ("quality.sharpness", "1" + "0" * 400),  # OverflowError in math.isfinite before the fix
    ("quality.face_px", "-" + "9" * 30),
    ("event_time_ms", str(2**63)),
    ("valence", "1" + "0" * 400),
])
def test_a_huge_integer_is_out_of_range_not_a_crash(path: str, raw_number: str) -> None:
    event = face_expression()
    *parents, leaf = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    target[leaf] = 12345  # a marker replaced in the text: json.dumps would refuse nothing, but keep it raw
    raw = json.dumps(event).replace("12345", raw_number, 1)
    found = problems_of(raw)
    assert any(p.startswith(f"{path}: integer out of range") for p in found), found


def test_the_largest_int64_is_still_judged_by_the_contract_range() -> None:
    found = problems_of(json.dumps(face_expression(event_time_ms=MAX_ABS_INTEGER)))
    assert any(p.startswith("event_time_ms:") and "above the maximum" in p for p in found)


@pytest.mark.parametrize("field", ["site_id", "camera_id", "track_id", "event_id"])
def test_ids_are_matched_whole_so_a_trailing_newline_fails(field: str) -> None:
    event = face_expression()
    event[field] = event[field] + "\n"
    assert any(p.startswith(f"{field}:") and "does not match" in p for p in problems_of(json.dumps(event)))


def test_a_byte_order_mark_is_refused_as_bytes_and_as_text() -> None:
    raw = json.dumps(camera_heartbeat())
    for bad in (b"\xef\xbb\xbf" + raw.encode(), "\ufeff" + raw):
        assert any("byte-order mark" in p for p in problems_of(bad))
    parse_event(raw.encode())  # the same record without it is fine


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "x\\udc00y"])
def test_a_lone_surrogate_in_an_unknown_field_or_key_is_refused(escaped: str) -> None:
    raw = json.dumps(face_expression())[:-1]
    for extra in (f', "note": "{escaped}"}}', f', "n{escaped}": 1}}', f', "deep": {{"list": ["{escaped}"]}}}}'):
        found = problems_of(raw + extra)
        assert any("lone UTF-16 surrogate" in p for p in found), found


def test_a_surrogate_pair_is_one_character_and_fine() -> None:
    raw = json.dumps(face_expression())[:-1] + ', "note": "\\ud83d\\ude00"}'
    assert parse_event(raw.encode())["note"] == "\U0001F600"


def test_invalid_utf8_and_other_encodings_are_malformed() -> None:
    raw = json.dumps(camera_heartbeat())
    for bad in (raw.encode("utf-16"), raw.encode("utf-32"), raw.encode()[:-1] + b"\xed\xa0\x80}"):
        assert any(p.startswith("$: malformed JSON") for p in problems_of(bad))


@pytest.mark.parametrize(("value", "ok"), [
    ("cafe-1", True), ("a" * 64, True), ("a" * 65, False), ("../../../escape", False), ("cafe\n", False),
    ("", False), ("-x", False), ("caf\u00e9", False), ("a/b", False), (7, False),
])
def test_identifier_problem(value: object, ok: bool) -> None:
    assert (identifier_problem(value) is None) is ok


def test_require_identifiers_names_every_bad_argument() -> None:
    require_identifiers(site="cafe-1", camera="door")
    with pytest.raises(ValueError, match=r"invalid id: site: '\.\./\.\./escape'.*; camera: 'x{80}'"):
        require_identifiers(site="../../escape", camera="x" * 300, zone="ok")
