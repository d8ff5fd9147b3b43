"""The C validator (`schemas._record`) accepts only what the reference accepts, and gives back the same event.

It never refuses: it accepts (an `Event` equal to `schemas.validation.parse_event`'s dict, ints kept
as ints) or gives up (None), and the reference decides. Checked here on generated valid events of
every kind, on mutated and hostile ones, on arbitrary bytes, and its pieces (patterns, floats) on
their own against Python's ``re`` and ``float``.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import pickle
import re
import struct
import sys
import tracemalloc
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas import fast_decode
from schemas.contract import CONTRACTS
from schemas.native_program import compile_pattern, program
from schemas.struct_mapping import json_default, to_document
from schemas.validation import ValidationError, parse_event
from tests.schemas.contract_strategies import mutated_records, plain, valid_events
from tests.schemas.events import camera_heartbeat, face_expression

record = pytest.importorskip("schemas._record") if not os.environ.get("MOODLENS_REQUIRE_NATIVE") else None
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_extension_is_built_where_it_is_required() -> None:
    """`make test` sets MOODLENS_REQUIRE_NATIVE: CI must not fall back to msgspec without saying so."""
    from schemas import _record  # ImportError here fails the test
    assert fast_decode.DECODE_PATH == "native"
    newest = max(source.stat().st_mtime for source in Path(fast_decode.__file__).with_name("_native").iterdir())
    assert Path(_record.__file__).stat().st_mtime >= newest, "a stale build: run make (pip install -e .)"


def native() -> Any:
    from schemas import _record
    return _record.Decoder(program(), "schema").parse


PARSE = native() if fast_decode.DECODE_PATH == "native" else None


def reference(raw: bytes) -> dict[str, Any] | None:
    try:
        return parse_event(raw)
    except ValidationError:
        return None


def dumps(event: Any) -> str:
    return json.dumps(event, sort_keys=True, default=json_default)


def assert_sound(raw: bytes) -> Any:
    """Whatever the C code accepts, the reference accepts too, as the same event (1 stays 1, 1.0 stays 1.0)."""
    assert PARSE is not None
    event = PARSE(raw)
    if event is not None:
        expected = reference(raw)
        assert expected is not None, raw
        assert event == expected and expected == event
        assert (event != expected) is False
        assert dumps(event) == dumps(expected) and to_document(event) == expected
        assert sorted(event) == sorted(expected) and len(event) == len(expected)
    return event


@SETTINGS
@given(valid_events())
def test_every_valid_event_takes_the_native_path(event: dict[str, Any]) -> None:
    for raw in (json.dumps(event).encode(), json.dumps(event, separators=(",", ":"), sort_keys=True).encode()):
        accepted = assert_sound(raw)
        assert accepted is not None or not plain(event), raw


@SETTINGS
@given(mutated_records())
def test_mutated_records_are_accepted_only_when_the_reference_accepts_them(raw: bytes) -> None:
    assert_sound(raw)


@settings(SETTINGS, max_examples=300)
@given(st.binary(max_size=700))
@example(b"")
@example(b'{"schema"')
@example(b'{"schema": "face_expression", "schema_version": "1.0"')
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    assert_sound(raw)


@settings(SETTINGS, max_examples=150)
@given(st.data())
def test_flipped_bytes_in_valid_records_never_crash(data: st.DataObject) -> None:
    raw = bytearray(json.dumps(data.draw(valid_events(("face_expression",)))).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from(b'"\\{}[],:.-+eE0159 \t\n\x00\x7f\x80\xff'))
    cut = data.draw(st.integers(0, len(raw)))
    assert_sound(bytes(raw[:cut]) if data.draw(st.booleans()) else bytes(raw))


@pytest.mark.parametrize("change", [
    lambda e: {**e, "gaze": 1},                                 # a newer minor's field: the reference keeps it
    lambda e: {**e, "box": {**e["box"], "angle": 4}},
    lambda e: {**e, "edge_version": "caf\u00e9"},               # non-ASCII (an escape in the JSON)
    lambda e: {**e, "edge_version": "a\\b"},                    # an escape
    lambda e: {**e, "duration_ms": 2**62},                      # 19 digits (valid: no maximum)
    lambda e: {**e, "quality": {**e["quality"], "sharpness": 2**60}},  # an int no double holds exactly
])
def test_unusual_but_maybe_valid_records_go_to_the_reference(change: Any) -> None:
    assert PARSE is not None
    raw = json.dumps(change(face_expression())).encode()
    assert PARSE(raw) is None
    try:
        assert fast_decode.parse_event_fast(raw) == reference(raw)
    except ValidationError:
        assert reference(raw) is None


def hostile_records() -> list[bytes]:
    """The cases of test_hostile_input.py, as bytes: each is invalid."""
    raw = json.dumps(face_expression())
    beat = json.dumps(camera_heartbeat())
    out = [raw.replace('"valence": 0.55', f'"valence": {number}').encode()
           for number in ("1" + "0" * 400, "-" + "9" * 30, str(2**63))]
    out += [json.dumps({**face_expression(), field: face_expression()[field] + "\n"}).encode()
            for field in ("site_id", "camera_id", "track_id", "event_id")]
    out += [b"\xef\xbb\xbf" + beat.encode(), beat.encode("utf-16"), beat.encode("utf-32"),
            beat.encode()[:-1] + b"\xed\xa0\x80}", json.dumps(face_expression(event_time_ms=2**63 - 1)).encode()]
    out += [(raw[:-1] + extra).encode() for escaped in ("\\ud800", "x\\udc00y")
            for extra in (f', "note": "{escaped}"}}', f', "n{escaped}": 1}}', f', "deep": {{"list": ["{escaped}"]}}}}')]
    return out


@pytest.mark.parametrize("raw", hostile_records())
def test_hostile_records_are_left_to_the_reference_with_its_reasons(raw: bytes) -> None:
    assert PARSE is not None
    assert PARSE(raw) is None
    with pytest.raises(ValidationError) as native_path:
        fast_decode.FastDecoder().parse(raw)
    with pytest.raises(ValidationError) as reference_path:
        parse_event(raw)
    assert native_path.value.problems == reference_path.value.problems


def test_the_tag_may_come_anywhere() -> None:
    assert PARSE is not None
    unknown_first = json.dumps(face_expression(gaze=None), sort_keys=True)  # "schema" after an unknown field
    assert PARSE(unknown_first.encode()) is None
    assert assert_sound(json.dumps(face_expression(), sort_keys=True).encode()) is not None
    assert assert_sound(json.dumps(camera_heartbeat(), sort_keys=True).encode()) is not None  # the second type tried


def test_a_program_whose_tag_could_match_two_types_is_refused() -> None:
    from schemas import _record
    untagged = tuple((*c[:12], tuple(f if f[0] != "schema" else (f[0], f[1], False, *f[3:]) for f in c[12]), *c[13:])
                     for c in program())
    with pytest.raises(ValueError, match="tag"):
        _record.Decoder(untagged, "schema")
    with pytest.raises(ValueError, match="tag"):
        _record.Decoder(program() + program()[:1], "schema")


def test_repeated_keys_and_trailing_data_go_to_the_reference() -> None:
    assert PARSE is not None
    raw = json.dumps(face_expression())
    for bad in (raw[:-1] + ', "site_id": "other"}', raw + " x", raw + "\n{}", "\ufeff" + raw,
                raw.replace(": ", ":  \x0c")):
        assert PARSE(bad.encode()) is None, bad
    assert PARSE((" \n\t" + raw + " \r\n").encode()) is not None  # JSON whitespace around is fine


def test_a_sum_near_the_tolerance_goes_to_the_reference() -> None:
    assert PARSE is not None
    shares = dict.fromkeys(face_expression()["probabilities"], 0.0)
    first, second = list(shares)[:2]
    for total, accepted in ((1.0, True), (1.0099, True), (1.01, False), (0.99, False), (1.02, False)):
        raw = json.dumps(face_expression(probabilities={**shares, first: 0.5, second: total - 0.5})).encode()
        assert (PARSE(raw) is not None) is accepted, total
        assert_sound(raw)


def test_events_are_read_only_mappings_equal_to_the_reference() -> None:
    assert PARSE is not None
    raw = json.dumps(face_expression(zone=None)).encode()
    event, expected = PARSE(raw), parse_event(raw)
    assert isinstance(event, Mapping) and isinstance(event["box"], Mapping)
    assert sorted(event) == sorted(expected) and dict(event.items()).keys() == expected.keys()
    assert next(iter(event.values())) == "face_expression" and event.get("duration_ms", 7) == 7
    assert "zone" in event and event["zone"] is None and "duration_ms" not in event and 3 not in event
    with pytest.raises(KeyError):
        event["duration_ms"]
    with pytest.raises(TypeError):
        event["site_id"] = "elsewhere"  # type: ignore[index]
    with pytest.raises(TypeError):
        hash(event)
    assert event != {**expected, "site_id": "elsewhere"}
    assert event != ["not", "a", "mapping"]
    assert type(event["quality"]["face_px"]) is int and type(event["quality"]["brightness"]) is float
    assert pickle.loads(pickle.dumps(event)) == expected and copy.deepcopy(event) == expected
    assert repr(event) == repr(to_document(event)) and "'box': {'x'" in repr(event)


# ---------------------------------------------------------------- values made on first read

def read_back(event: Any, expected: Mapping[str, Any], order: list[str]) -> None:
    """Each field read on its own, in ``order``: equal to the reference's, of its type, the same object
    when read again; nested objects read the same way, member by member."""
    for key in order:
        assert key in event and event.get(key) == expected[key]
        value = event[key]
        assert type(value) is type(expected[key]) or isinstance(value, Mapping), key
        assert event[key] is value, key  # made once, then kept
        if isinstance(value, Mapping):
            read_back(value, expected[key], sorted(expected[key], reverse=len(key) % 2 == 1))
    assert len(event) == len(expected) and sorted(event) == sorted(expected)


@SETTINGS
@given(valid_events(), st.randoms(use_true_random=False))
def test_fields_read_one_at_a_time_in_any_order_equal_the_reference(event: dict[str, Any], rng: Any) -> None:
    """Values are checked when the record is parsed but made when first read (record.h, Event): whatever
    the order and whichever fields a reader takes, it gets the reference's values."""
    assert PARSE is not None
    raw = json.dumps(event).encode()
    parsed, expected = PARSE(raw), reference(raw)
    if parsed is None:
        assert not plain(event)
        return
    assert expected is not None
    order = list(expected)
    rng.shuffle(order)
    read_back(parsed, expected, order[:rng.randrange(len(order) + 1)])
    assert parsed == expected and to_document(parsed) == expected  # the rest made by the comparison
    read_back(parsed, expected, order)


def test_an_event_holds_its_record_while_it_lives_and_reads_it_from_bytes_or_text() -> None:
    assert PARSE is not None
    document = face_expression(zone=None)
    raw = json.dumps(document).encode()
    for source in (bytes(bytearray(raw)), raw.decode()):  # objects of their own, only this test holds them
        alone = sys.getrefcount(source)
        event = PARSE(source)
        assert sys.getrefcount(source) == alone + 1
        quality = event["quality"]  # a nested object made on read holds the record too
        assert sys.getrefcount(source) == alone + 2
        del event
        assert sys.getrefcount(source) == alone + 1
        assert quality == document["quality"] and quality["sharpness"] == 140.5
        del quality
        assert sys.getrefcount(source) == alone
    event = PARSE(bytes(bytearray(raw)))  # the record's only holder is the event now
    gc.collect()
    assert event["event_id"] == document["event_id"] and event["box"]["h"] == 0.3 and event == document


def test_values_read_many_times_are_released_with_their_event() -> None:
    assert PARSE is not None
    raw = json.dumps(face_expression()).encode()
    event = PARSE(raw)
    valence = event["valence"]
    held = sys.getrefcount(valence)
    for _ in range(1000):
        event["valence"], event.get("valence"), event["quality"]["usable"], event.to_dict()
    assert sys.getrefcount(valence) == held
    del event
    assert sys.getrefcount(valence) == held - 1


def test_a_sibling_left_in_the_record_decides_required_when() -> None:
    """A field required by a sibling that is itself left in the record (a string not remembered): the
    sibling is made to be compared, and the event still reads as the record."""
    from schemas import _record
    from schemas.contract import Field
    from schemas.native_program import field_program
    fields = (Field("schema", "string", "", enum=("t",)), Field("event_id", "string", ""),
              Field("n", "integer", "", required=False, required_when=("event_id", "x")))
    contract = ("t", 4, True, False, 0, 0, -1.0, 1.0, None, None, None, -1,
                tuple(field_program(f, fields) for f in fields), -1, None, -1.0, False)
    parse = _record.Decoder((contract,), "schema").parse
    assert parse(b'{"schema": "t", "event_id": "x"}') is None
    assert parse(b'{"schema": "t", "event_id": "y"}') == {"schema": "t", "event_id": "y"}
    event = parse(b'{"schema": "t", "event_id": "x", "n": 3}')
    assert event is not None and event["n"] == 3 and event["event_id"] == "x" and len(event) == 3


def test_validate_falls_back_for_what_it_does_not_prove_and_honours_the_size_limit() -> None:
    decoder = fast_decode.FastDecoder()
    document = face_expression()
    raw = json.dumps(document).encode()
    assert decoder.parse(raw) == decoder.parse(raw, max_bytes=len(raw)) == parse_event(raw)
    with pytest.raises(ValidationError, match=f"over the limit of {len(raw) - 1}"):
        decoder.parse(raw, max_bytes=len(raw) - 1)
    with pytest.raises(ValidationError, match="schema_version"):
        decoder.parse(raw.replace(b'"1.0"', b'"2.0"'), max_bytes=4096)
    assert decoder.parse(document) == parse_event(raw)  # a mapping: the reference's path
    with pytest.raises(TypeError):
        decoder.parse(raw, limit=10)  # type: ignore[call-arg]


def test_decoders_are_collected() -> None:
    """The C decoder calls back into its FastDecoder: a cycle the garbage collector must see."""
    decoder = fast_decode.FastDecoder(["camera_heartbeat"])
    alive = weakref.ref(decoder)
    del decoder
    gc.collect()
    assert alive() is None


# ---------------------------------------------------------------- patterns

@pytest.mark.parametrize("pattern", sorted({f.pattern for c in CONTRACTS.values() for f in c.fields if f.pattern}
                                           | {r"^0*1\.[0-9]+$", "^a?b*c+$", "^[a-c]{2,3}x[0-9]{0,2}$"}))
def test_the_contracts_patterns_compile(pattern: str) -> None:
    assert compile_pattern(pattern) is not None


@pytest.mark.parametrize("pattern", ["^a*a$", "^[ab]?b$", "^(ab)+$", "^a|b$", r"^\d+$", "^[^a]$", "^a.b$", "^a+?$",
                                     "^x?y?x$", "^é$"])
def test_patterns_greedy_matching_cannot_decide_are_left_to_re(pattern: str) -> None:
    assert compile_pattern(pattern) is None


PATTERNS = [r"^[0-9]+\.[0-9]+$", r"^0*1\.[0-9]+$", r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
            r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", "^a?b*c+$", "^[a-c]{2,3}x[0-9]{0,2}$", "^-?[0-9]{1,3}$"]


@settings(SETTINGS, max_examples=400)
@given(st.sampled_from(PATTERNS), st.data())
def test_compiled_patterns_match_as_re_fullmatch(pattern: str, data: st.DataObject) -> None:
    from schemas import _record
    items = compile_pattern(pattern)
    assert items is not None
    regex = "^(?:" + pattern[1:-1] + r")\Z"
    text = data.draw(st.one_of(st.from_regex(regex, fullmatch=True),
                               st.text("01abcx.:-_AZ7\n\u00e9", max_size=70),
                               st.from_regex(regex, fullmatch=True).map(lambda s: s + "\n")))
    assert _record.match_pattern(items, text) == (re.fullmatch(regex, text) is not None), text


def test_rules_the_program_cannot_carry_are_refused_at_import() -> None:
    """Then FastDecoder runs without the C path rather than checking less."""
    from schemas.contract import Field
    from schemas.native_program import field_program
    for spec in (Field("k", "string", "", enum=("a",), max_length=3),
                 Field("k", "string", "", enum=("a",), pattern="^a$"),
                 Field("k", "string", "", enum=("\u00e9",)), Field("k", "integer", "", minimum=2**60 + 1)):
        with pytest.raises(NotImplementedError):
            field_program(spec, (spec,))


def test_a_pattern_the_greedy_matcher_cannot_take_is_checked_by_re_in_the_c_path() -> None:
    from schemas import _record
    from schemas.contract import Field
    from schemas.native_program import field_program
    fields = (Field("schema", "string", "", enum=("t",)), Field("v", "string", "", pattern="^(ab)+$"))
    contract = ("t", 4, True, False, 0, 0, -1.0, 1.0, None, None, None, -1,
                tuple(field_program(f, fields) for f in fields), -1, None, -1.0, False)
    parse = _record.Decoder((contract,), "schema").parse
    assert parse(b'{"schema": "t", "v": "abab"}') == {"schema": "t", "v": "abab"}
    for value in (b"aba", b"abab\\n", b""):
        assert parse(b'{"schema": "t", "v": "' + value + b'"}') is None


# ---------------------------------------------------------------- numbers

def number_record(token: str) -> bytes:
    return json.dumps(face_expression(valence=0.123)).replace("0.123", token, 1).encode()


@settings(SETTINGS, max_examples=400)
@given(st.one_of(
    st.floats(-1.0, 1.0).map(repr),
    st.floats(-1.0, 1.0).map(lambda x: f"{x:.17g}"),
    st.floats(-1.0, 1.0).map(lambda x: f"{x:.25e}"),
    st.tuples(st.booleans(), st.text("0123456789", min_size=1, max_size=22), st.integers(-40, 5))
      .map(lambda t: f"{'-' if t[0] else ''}0.{t[1]}e{t[2]}"),
    st.tuples(st.integers(0, 10**19), st.integers(-30, 0)).map(lambda t: f"{t[0]}e{t[1]}"),
))
def test_floats_are_the_doubles_python_reads(token: str) -> None:
    assert PARSE is not None
    event = PARSE(number_record(token))
    value = float(token)
    if -1.0 <= value <= 1.0 and ("." in token or "e" in token):
        assert event is not None, token
        assert struct.pack("<d", event["valence"]) == struct.pack("<d", value), token
    else:
        assert event is None or event["valence"] == value


# ---------------------------------------------------------------- memory

def read_all(event: Any) -> None:
    """Every field, nested ones too, made from the record (and the event then dropped)."""
    for key in event or ():
        if isinstance(event[key], Mapping):
            read_all(event[key])


def test_no_memory_grows_over_many_records() -> None:
    """Accepted, given-up-on and half-built events all release what they hold, read or not."""
    assert PARSE is not None
    good = json.dumps(face_expression()).encode()
    records = [good, good[:-40], good.replace(b'"usable": true', b'"usable": 1'), good[:-1] + b', "x": 1}',
               good.replace(b"0.01", b"1e400", 1), b'{"schema": "face_expression"}', good.replace(b"neutral", b"x"),
               json.dumps(camera_heartbeat()).encode()]
    for raw in records * 200:  # warm caches and free lists
        read_all(PARSE(raw))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for raw in records * 3000:
            PARSE(raw)
            read_all(PARSE(raw))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
