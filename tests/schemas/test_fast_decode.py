"""The fast path (msgspec structs from the contract) agrees with the reference validator on every record.

Agreement means: the same accept/reject, the same event (equal keys and values, ints still ints)
when accepted, the same problems (paths, reasons and codes) when refused. The fast path may only ever
accept what the reference accepts; what it does not accept, the reference decides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas.contract import CONTRACTS, Field
from schemas.fast_decode import FastDecoder, full_match
from schemas.struct_mapping import EventStruct, json_default, to_document
from schemas.structs import struct_for
from schemas.validation import ValidationError, parse_event
from tests.schemas.contract_strategies import mutated_records, valid_events
from tests.schemas.events import SAMPLES, face_expression

DECODER = FastDecoder()
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parse: Any, raw: bytes | str) -> tuple[str, Any]:
    """What a parser made of a record, in a form that tells 1 from 1.0 and keeps every reason."""
    try:
        event = parse(raw, max_bytes=4096)
    except ValidationError as error:
        return "refused", [(p.path, p.reason, p.code) for p in error.problems]
    return "accepted", dumps(event)


def dumps(event: Any) -> str:
    """As the stream's writers encode an event (structs through ``json_default``): tells 1 from 1.0."""
    return json.dumps(event, sort_keys=True, default=json_default)


@SETTINGS
@given(mutated_records())
def test_fast_path_and_reference_agree_on_mutated_records(raw: bytes) -> None:
    fast = DECODER.fast(raw)
    event("fast path" if fast is not None else "reference decides")
    if fast is not None:  # soundness: the fast path never accepts what the reference refuses
        reference = parse_event(raw)
        assert dumps(fast) == dumps(reference)
        assert_reads_like(fast, reference)
    assert outcome(DECODER.parse, raw) == outcome(parse_event, raw)


@settings(SETTINGS, max_examples=60)
@given(valid_events())
def test_valid_events_take_the_fast_path(event: dict[str, Any]) -> None:
    raw = json.dumps(event).encode()
    fast = DECODER.fast(raw)
    assert fast is not None, parse_event(raw)
    assert dumps(fast) == json.dumps(json.loads(raw), sort_keys=True)
    assert_reads_like(fast, parse_event(raw))


def assert_reads_like(fast: EventStruct, reference: dict[str, Any]) -> None:
    """The struct answers every mapping question as the reference's dict does, nested objects too."""
    assert fast == reference and reference == fast and (fast != reference) is False
    assert sorted(fast) == sorted(reference) and len(fast) == len(reference)
    assert dict(fast.items()).keys() == reference.keys()
    for key, value in reference.items():
        assert key in fast and fast.get(key) == value and fast[key] == value
        assert type(to_document(fast)[key]) is type(value)  # 1 stays an int, 1.0 a float
        if isinstance(value, dict):
            assert_reads_like(fast[key], value)
    for absent in ("zone", "duration_ms", "frame_count", "usable", "keys", "get", "_keys", "__class__"):
        if absent not in reference:
            assert absent not in fast and fast.get(absent, "default") == "default"
            with pytest.raises(KeyError):
                fast[absent]


@given(valid_events(("face_expression", "camera_heartbeat")), st.sampled_from(["sentiment_window", "2.0"]))
@settings(max_examples=50, deadline=None)
def test_a_decoder_for_some_types_leaves_the_others_to_the_reference(event: dict[str, Any], change: str) -> None:
    inputs = FastDecoder(["face_expression", "camera_heartbeat"])
    if change == "2.0":
        event["schema_version"] = "2.0"
    else:
        event = SAMPLES[change]()
    raw = json.dumps(event).encode()
    assert inputs.fast(raw) is None
    assert outcome(inputs.parse, raw) == outcome(parse_event, raw)


@pytest.mark.parametrize(("path", "value"), [
    ("box.x", True), ("quality.face_px", 96.0), ("site_id", "cafe\n"), ("track_id", "t42\n"),
    ("schema_version", "1.0\n"), ("event_id", "01ARZ3NDEKTSV4RRFFQ69G5FAV\n"), ("zone", "door\n"),
    ("duration_ms", 2**63), ("event_time_ms", 2**63 - 1),
    ("event_time_ms", 10**400), ("quality.face_px", -(10**400)), ("valence", 10**400), ("duration_ms", 10**400),
])
def test_the_fast_path_leaves_these_to_the_reference(path: str, value: Any) -> None:
    event = face_expression()
    *parents, leaf = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    target[leaf] = value
    raw = json.dumps(event).encode()
    assert DECODER.fast(raw) is None
    assert outcome(DECODER.parse, raw) == outcome(parse_event, raw)


@pytest.mark.parametrize(("path", "value"), [
    ("site_id", "cafe\n"), ("event_id", "01ARZ3NDEKTSV4RRFFQ69G5FAV\n"), ("event_time_ms", 10**400),
    ("valence", -(10**400)), ("box.x", True), ("quality.face_px", 96.0),
])
def test_huge_numbers_bools_and_trailing_newlines_are_refused_with_their_field(path: str, value: Any) -> None:
    event = face_expression()
    *parents, leaf = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    target[leaf] = value
    with pytest.raises(ValidationError) as refused:
        DECODER.parse(json.dumps(event).encode())
    assert [p.path for p in refused.value.problems] == [path]


def test_newer_minor_with_unknown_fields_keeps_them() -> None:
    raw = json.dumps(face_expression(schema_version="1.9", gaze={"yaw": 3}, box={
        "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "angle": 4})).encode()
    event = DECODER.parse(raw)
    assert event["gaze"] == {"yaw": 3} and event["box"]["angle"] == 4


def test_fast_path_events_are_read_only_mappings() -> None:
    event = DECODER.fast(json.dumps(face_expression()).encode())
    assert isinstance(event, Mapping) and isinstance(event["quality"], Mapping)
    with pytest.raises(AttributeError):
        event.site_id = "elsewhere"
    with pytest.raises(TypeError):
        event["site_id"] = "elsewhere"
    with pytest.raises(TypeError):
        hash(event)  # equal to a dict, so unhashable like one
    assert event != {**face_expression(), "site_id": "elsewhere"} and event != ["not", "a", "mapping"]


def test_absent_and_null_stay_apart() -> None:
    with_null, absent = face_expression(zone=None), face_expression()
    del absent["zone"]
    assert DECODER.parse(json.dumps(with_null))["zone"] is None
    assert "zone" not in DECODER.parse(json.dumps(absent).encode())


def test_oversized_records_are_refused_before_decoding() -> None:
    raw = json.dumps(face_expression(edge_version="x" * 60)).encode()
    with pytest.raises(ValidationError, match="over the limit of 100"):
        DECODER.parse(raw, max_bytes=100)


def test_structs_follow_the_contract() -> None:
    for contract in CONTRACTS.values():
        struct = struct_for(contract)
        assert struct.__struct_config__.tag_field == "schema" and struct.__struct_config__.tag == contract.name
        assert struct.__struct_fields__ == tuple(f.name for f in contract.fields if f.required and f.name != "schema"
                                                 ) + tuple(f.name for f in contract.fields if not f.required)
        decode = msgspec.json.Decoder(struct).decode
        with pytest.raises(msgspec.ValidationError, match="schema"):
            decode(json.dumps({**SAMPLES[contract.name](), "schema": "other"}).encode())


def test_patterns_match_whole_values_only() -> None:
    pattern = full_match(Field("v", "string", "", pattern=r"^[a-z]+$").pattern or "")
    decode = msgspec.json.Decoder(msgspec.defstruct("s", [("v", Annotated[str, msgspec.Meta(pattern=pattern)])])).decode
    assert decode(b'{"v": "cafe"}')
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"v": "cafe\\n"}')
