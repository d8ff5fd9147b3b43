"""The C column decoder (`Decoder.columns`, `schemas/_native/columns.c`) vouches only for what the reference accepts.

Here it runs alone (`decode_native(lines, then=None)`: what it leaves stays refused), so msgspec's
path cannot hide a mistake: every row it gives must be the reference validator's verdict and value,
as the lake stores it (floats bit for bit), on valid events of every kind in any key order, mutated
and hostile records, flipped bytes and arbitrary bytes. Its tables equal msgspec's path's, schema and
metadata included; and a loop over fuzzed batches leaks neither memory nor references.
"""

from __future__ import annotations

import json
import os
import random
import struct
import sys
import tracemalloc
from collections.abc import Sequence
from inspect import signature
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.compact import native_decode
from batch.compact.decode import Lines, decode_lines, lake_row
from batch.compact.dictionary import decoded_schema
from batch.compact.fast_decode import MAX_INSTANT_MS, FastColumns, decode_fast
from batch.compact.native_decode import DECODE_PATH, decode_columns, decode_native
from batch.lake.tables import lake_schema
from schemas.contract import CONTRACTS, MAX_RECORD_BYTES
from schemas.validation import ValidationError, parse_event
from tests.schemas.contract_strategies import mutated_records, plain, valid_events
from tests.schemas.events import SAMPLES, camera_heartbeat, face_expression, sentiment_window

if DECODE_PATH != "native" and not os.environ.get("MOODLENS_REQUIRE_NATIVE"):
    pytest.skip("schemas._record not built (pip install -e .)", allow_module_level=True)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_native_decoder_is_compaction_s_fast_path_where_it_is_required() -> None:
    """`make test` sets MOODLENS_REQUIRE_NATIVE: a missing extension fails here rather than measuring msgspec."""
    assert DECODE_PATH == "native"
    assert decode_columns is decode_native
    assert signature(decode_lines).parameters["fast"].default is decode_native


def c_only(lines: Sequence[bytes]) -> FastColumns:
    return decode_native(lines, then=None)


def reference_row(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """The reference's verdict as the lake stores it (None: refused, or no column holds it)."""
    try:
        event = parse_event(raw, max_bytes=MAX_RECORD_BYTES)
        contract = CONTRACTS[event["schema"]]
        table = pa.Table.from_pylist([lake_row(contract, event)], schema=lake_schema(contract))
    except (ValidationError, RecursionError, pa.ArrowInvalid, OverflowError):
        return None
    return contract.name, table.to_pylist()[0]


def assert_sound(lines: Sequence[bytes]) -> dict[int, tuple[str, dict[str, Any]]]:
    """Every line accepted or refused once, rows in line order, each accepted row the reference's."""
    out = c_only(lines)
    accepted: dict[int, tuple[str, dict[str, Any]]] = {}
    for name, (table, rows) in out.tables.items():
        assert table.schema.equals(decoded_schema(CONTRACTS[name]), check_metadata=True)
        assert table.num_rows == len(rows) and list(rows) == sorted(rows)
        table.validate(full=True)
        accepted.update({int(i): (name, row) for i, row in zip(rows, table.to_pylist(), strict=True)})
    assert sorted([*accepted, *out.refused]) == list(range(len(lines)))
    for index, row in accepted.items():
        assert reference_row(lines[index]) == row, lines[index]
    return accepted


def shuffled(value: Any, rng: random.Random) -> Any:
    if not isinstance(value, dict):
        return value
    keys = list(value)
    rng.shuffle(keys)
    return {key: shuffled(value[key], rng) for key in keys}


@settings(SETTINGS, max_examples=60)
@given(st.lists(valid_events(), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_valid_events_in_any_key_order_take_the_native_path_as_the_reference_reads_them(
        events: list[dict[str, Any]], rng: random.Random) -> None:
    styles = (json.dumps, lambda e: json.dumps(e, separators=(",", ":"), sort_keys=True),
              lambda e: json.dumps(shuffled(e, rng)))
    lines = [rng.choice(styles)(event).encode() for event in events]
    accepted = assert_sound(lines)
    for index, event in enumerate(events):
        assert index in accepted or not plain(event) or not fits_the_lake(event), lines[index]


def fits_the_lake(event: dict[str, Any]) -> bool:
    """Every instant at most 9999-12-31 (the contract leaves window bounds open; a timestamp ends there)."""
    return all(event.get(spec.name) is None or event[spec.name] <= MAX_INSTANT_MS
               for spec in CONTRACTS[event["schema"]].fields if spec.instant)


@settings(SETTINGS, max_examples=80)
@given(st.lists(mutated_records(), min_size=1, max_size=4))
def test_mutated_records_are_accepted_only_as_the_reference_accepts_them(lines: list[bytes]) -> None:
    assert_sound(lines)


@settings(SETTINGS, max_examples=200)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash_nor_pass(raw: bytes) -> None:
    assert_sound([raw, json.dumps(face_expression()).encode(), raw])


@SETTINGS
@given(st.data())
def test_flipped_bytes_in_valid_records_never_pass_unless_the_reference_agrees(data: st.DataObject) -> None:
    raw = bytearray(json.dumps(data.draw(valid_events())).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(raw) - 1))
        raw[where] = data.draw(st.sampled_from(b'"\\{}[],:.-+eE0159 \t\n\x00\x7f\xff'))
    cut = data.draw(st.integers(0, len(raw)))
    assert_sound([bytes(raw[:cut]), bytes(raw)])


@settings(SETTINGS, max_examples=300)
@given(st.one_of(
    st.floats(-1.0, 1.0).map(repr),
    st.floats(-1.0, 1.0).map(lambda x: f"{x:.17g}"),
    st.tuples(st.booleans(), st.text("0123456789", min_size=1, max_size=20), st.integers(0, 3))
      .map(lambda t: f"{'-' if t[0] else ''}0.{t[1]}" + "0" * t[2]),
    st.tuples(st.booleans(), st.integers(0, 2**60)).map(lambda t: f"{'-' if t[0] else ''}{t[1]}"),
    st.sampled_from(["-0", "-0.0", "0", "1", "1.0", "1e0", "0.5E-0", "01", "1.", ".5", "-", "1.5e", "0x1"]),
))
def test_numbers_are_the_doubles_python_reads_bit_for_bit(token: str) -> None:
    raw = json.dumps(face_expression(valence=0.123)).replace("0.123", token, 1).encode()
    accepted = assert_sound([raw])
    if accepted:
        read = json.loads(token)  # an int stays an int for the reference; the lake stores its float
        assert struct.pack("<d", accepted[0][1]["valence"]) == struct.pack("<d", float(read)), token


@pytest.mark.parametrize("token, accepted", [
    ("0", True), ("-0", True), ("120000", True), ("999999999999999999", True),  # 18 digits
    ("1000000000000000000", False), ("-1", False), ("1.0", False), ("1e3", False), ("true", False),
])
def test_integers_within_bounds_and_18_digits_are_read_exactly(token: str, accepted: bool) -> None:
    raw = json.dumps(face_expression(kind="track_end", duration_ms=12345, frame_count=3)) \
        .replace('"duration_ms": 12345', f'"duration_ms": {token}').encode()
    rows = assert_sound([raw])
    assert bool(rows) is accepted
    if accepted:
        assert rows[0][1]["duration_ms"] == int(token)


def test_its_tables_equal_the_msgspec_paths_schema_metadata_and_nulls_included() -> None:
    events = [SAMPLES[name]() for name in sorted(SAMPLES) for _ in range(5)]
    events += [face_expression(kind="track_end", duration_ms=5000, frame_count=120, zone="door"),
               face_expression(quality={"face_px": 96, "sharpness": 1, "brightness": 0, "usable": False}),
               sentiment_window(tracks=2, insufficient_data=True, shares=None, mean_valence=None,
                                valence_ci=None, net_score=None, net_score_ci=None),
               camera_heartbeat(fps=0)]
    quality = face_expression()["quality"]
    events.append(face_expression(quality={k: v for k, v in quality.items() if k != "usable"}))
    lines = [json.dumps(e).encode() for e in events]
    native, msgspec = c_only(lines), decode_fast(lines)
    assert native.refused == msgspec.refused == []
    assert sorted(native.tables) == sorted(msgspec.tables) == sorted(CONTRACTS)
    for name, (table, rows) in native.tables.items():
        # the same values; low-cardinality strings dictionary-encoded (msgspec's path: plain)
        assert table.schema.equals(decoded_schema(CONTRACTS[name]), check_metadata=True)
        assert table.cast(lake_schema(CONTRACTS[name])).equals(msgspec.tables[name][0], check_metadata=True), name
        assert np.array_equal(rows, msgspec.tables[name][1])


def test_cross_field_rules_and_limits_hold_in_c() -> None:
    shares = dict.fromkeys(face_expression()["probabilities"], 0.0)
    near = {**shares, "happy": 0.5, "sad": 0.51 - 1e-12}  # within 1e-9 of the tolerance: the reference sums
    base = json.dumps(face_expression()).encode()
    lines = [json.dumps(face_expression(kind="track_end")).encode(),  # duration_ms and frame_count required
             json.dumps(face_expression(kind="track_end", duration_ms=None, frame_count=2)).encode(),
             json.dumps(face_expression(probabilities={**shares, "happy": 0.5, "sad": 0.4})).encode(),
             json.dumps(face_expression(probabilities=near)).encode(),
             json.dumps(face_expression(schema_version="2.0")).encode(),
             base + b" " * (MAX_RECORD_BYTES - len(base) + 1),  # over the stream's record limit
             base[:-1] + b', "site_id": "cafe-2"}',  # repeated: the reference takes the last
             json.dumps(face_expression(valence=float("inf"))).encode(), b" " + base + b"\r\n"]
    assert set(c_only(lines).refused) == set(range(len(lines) - 1))
    assert_sound(lines)


def test_what_it_leaves_goes_to_msgspec_and_rows_stay_in_line_order() -> None:
    box = {"x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1, "angle": 4}
    events = [face_expression(), face_expression(model={"id": "vgg-caf\u00e9", "version": "1"}), face_expression(),
              face_expression(box=box), camera_heartbeat(edge_version="a\\b"), camera_heartbeat()]
    lines: list[Any] = [json.dumps(e, ensure_ascii=False).encode() for e in events] + [bytearray(b"{}"), "text"]
    assert c_only(lines).refused == [1, 3, 4, 6, 7]
    out = decode_native(lines)
    assert out.refused == [3, 6, 7]  # an unknown member, objects that are no bytes: the reference decides
    faces, rows = out.tables["face_expression"]
    assert list(rows) == [0, 1, 2] and faces.column("event_id").to_pylist() == [e["event_id"] for e in events[:3]]
    assert faces.column("model").to_pylist()[1] == events[1]["model"]
    assert list(out.tables["camera_heartbeat"][1]) == [4, 5]


class _Stopping:
    """A decoder whose buffers fill after `every` lines, as at 2 GiB of strings: the caller goes on."""

    def __init__(self, decoder: Any, every: int) -> None:
        self.decoder, self.every = decoder, every

    def columns(self, lines: Sequence[bytes], max_bytes: int, *dictionary: Any) -> Any:
        consumed, refused, tables = self.decoder.columns(lines[: self.every], max_bytes, *dictionary)
        return consumed, refused, tables


def test_a_batch_the_buffers_cannot_hold_at_once_is_decoded_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [json.dumps(SAMPLES[name]()).encode() for name in sorted(SAMPLES) for _ in range(7)] + [b"{bad"]
    whole = c_only(lines)
    stopping = _Stopping(native_decode._decoder(), 5)
    monkeypatch.setattr(native_decode, "_decoder", lambda: stopping)
    parts = c_only(lines)
    assert parts.refused == whole.refused == [len(lines) - 1]
    for name, (table, rows) in whole.tables.items():
        plain = lake_schema(CONTRACTS[name])  # each part has its own dictionaries
        assert parts.tables[name][0].cast(plain).equals(table.cast(plain))
        assert np.array_equal(parts.tables[name][1], rows)


def test_fuzzed_batches_leak_neither_memory_nor_references() -> None:
    rng = random.Random(7)
    valid = [json.dumps(SAMPLES[name]()).encode() for name in sorted(SAMPLES)]
    lines = []
    for index in range(400):
        raw = bytearray(valid[index % len(valid)])
        for _ in range(index % 3):
            raw[rng.randrange(len(raw))] = rng.choice(b'"\\{}[],:.-e09 n\x00\xff')
        lines.append(bytes(raw[: rng.randrange(len(raw) + 1)] if index % 5 == 4 else raw))
    decoder = native_decode._decoder()
    counts = [sys.getrefcount(line) for line in lines]
    held = sys.getrefcount(decoder)

    def one_round() -> None:
        out = c_only(lines)
        assert out.refused and out.tables
        Lines.of("fuzz", lines)

    for _ in range(3):  # warm-up: caches, pyarrow's pools
        one_round()
    tracemalloc.start()
    try:
        one_round()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(25):
            one_round()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
    assert [sys.getrefcount(line) for line in lines] == counts
    assert sys.getrefcount(decoder) == held


def test_a_pattern_left_to_re_is_checked_in_the_columns_too() -> None:
    from schemas import _record
    from schemas.contract import Field
    from schemas.native_program import field_program
    fields = (Field("schema", "string", "", enum=("t",)), Field("v", "string", "", pattern="^(ab)+$"))
    contract = ("t", 4, True, False, 0, 0, -1.0, 1.0, None, None, None, -1,
                tuple(field_program(f, fields) for f in fields), -1, None, -1.0, False)
    decoder = _record.Decoder((contract,), "schema")
    lines = [b'{"schema": "t", "v": "' + value + b'"}' for value in (b"abab", b"aba", b"abab\\n", b"", b"ab")]
    consumed, refused, (table,) = decoder.columns(lines, 1000)
    assert table is not None
    rows, index, columns = table
    assert (consumed, refused, rows) == (5, [1, 2, 3], 2)
    assert np.frombuffer(index, dtype=np.int64).tolist() == [0, 4]
    _validity, offsets, data, nulls = columns[1]
    assert offsets is not None and data is not None and nulls == 0
    assert bytes(data) == b"ababab" and np.frombuffer(offsets, dtype=np.int32).tolist() == [0, 4, 6]


def test_the_column_entry_points_refuse_a_wrong_call_with_their_usage() -> None:
    from schemas import _record

    decoder = native_decode._decoder()
    with pytest.raises(TypeError, match=r"columns\(lines, max_bytes\[, dictionary\]\)"):
        decoder.columns([b"{}"])
    with pytest.raises(TypeError, match=r"columns_in\(data, starts, ends, max_bytes\[, dictionary\]\)"):
        decoder.columns_in(b"{}", np.array([0]), np.array([2]))
    bare = _record.Decoder.__new__(_record.Decoder)  # __init__ never ran: no program to run
    for call in (lambda: bare.columns([b"{}"], 100), lambda: bare.columns_in(b"{}", np.array([0]), np.array([2]), 100)):
        with pytest.raises(RuntimeError, match="Decoder not initialised"):
            call()
