"""The columnar fast paths accept exactly what the reference validator accepts, with its reasons.

Every test runs with each fast path `decode_lines` can take: msgspec's (`decode_fast`) and the C
column decoder's (`decode_native`, which hands what it leaves to msgspec's): the seam's contract
holds for both.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.compact.decode import Lines, decode_lines, lake_row
from batch.compact.dictionary import decoded_schema
from batch.compact.fast_decode import MAX_INSTANT_MS, FastColumns, FastDecoder, decode_fast
from batch.compact.native_decode import DECODE_PATH, decode_native
from batch.lake.tables import lake_schema
from batch.table_schema import lake_name, to_arrow_table
from schemas.contract import CONTRACTS, MAX_RECORD_BYTES
from schemas.validation import ValidationError, parse_event
from tests.schemas.events import SAMPLES, face_expression, sentiment_window

_NATIVE_MISSING = DECODE_PATH != "native" and not os.environ.get("MOODLENS_REQUIRE_NATIVE")
FAST_PATHS = pytest.mark.parametrize("fast", [
    pytest.param(decode_fast, id="msgspec"),
    pytest.param(decode_native, id="native",
                 marks=pytest.mark.skipif(_NATIVE_MISSING, reason="schemas._record not built (pip install -e .)")),
])


def _records(events: list[Any]) -> Lines:
    return Lines.of("test", [e if isinstance(e, bytes) else json.dumps(e).encode() for e in events])


@FAST_PATHS
def test_valid_events_of_every_kind_take_the_fast_path_and_match_the_reference_conversion(fast: FastDecoder) -> None:
    events = [SAMPLES[name]() for name in sorted(SAMPLES) for _ in range(3)]
    events.append(face_expression(kind="track_end", duration_ms=5000, frame_count=120, zone="door"))
    # too few tracks: every measure null, nested objects included (their fields are not nullable)
    events.append(sentiment_window(tracks=2, insufficient_data=True, shares=None, mean_valence=None,
                                   valence_ci=None, net_score=None, net_score_ci=None))
    decoded = decode_lines(_records(events), fast=fast)
    assert decoded.reference == 0 and not decoded.rejected
    for name, contract in CONTRACTS.items():
        expected = to_arrow_table(contract, [e for e in events if e["schema"] == name])
        got = pa.concat_tables(decoded.tables[name])
        assert got.schema == decoded_schema(contract)  # the lake's, low-cardinality strings dictionary-encoded
        assert got.cast(lake_schema(contract)).schema == lake_schema(contract)
        assert got.column("event_id").to_pylist() == expected.column("event_id").to_pylist()
        instants = {lake_name(spec): spec.name for spec in contract.fields if spec.instant}
        for column in expected.column_names:
            if column not in instants:
                assert got.column(column).to_pylist() == expected.column(column).to_pylist(), column
        for column, wire in instants.items():  # epoch ms on the wire, microseconds in the lake
            assert got.column(column).cast(pa.int64()).to_pylist() == \
                [e[wire] * 1000 for e in events if e["schema"] == name], column


def _with(path: str, value: Any) -> dict[str, Any]:
    event = face_expression()
    *parents, leaf = path.split(".")
    target = event
    for parent in parents:
        target = target[parent]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return event


_DELETE = object()
BAD: list[tuple[Any, str]] = [
    (b"{not json", "$"), (b"[1, 2]", "$"), (b'{"a": 1}, {"b": 2}', "$"), (b"NaN", "$"),
    (_with("quality.usable", None), "quality.usable"), (_with("valence", 1.5), "valence"),
    (_with("camera_id", "has space"), "camera_id"), (_with("event_id", "not-a-ulid"), "event_id"),
    (_with("schema_version", "2.0"), "schema_version"), (_with("kind", "track_end"), "duration_ms"),
    (_with("probabilities.happy", 0.2), "probabilities"), (_with("probabilities.contempt", 0.3), "probabilities"),
    (_with("quality.face_px", 1.0), "quality.face_px"), (_with("quality.sharpness", True), "quality.sharpness"),
    (_with("box", None), "box"), (_with("track_id", _DELETE), "track_id"), (_with("schema", "nope"), "schema"),
    (_with("event_time_ms", 1_790_000_000), "event_time_ms"),
    (_with("edge_version", "x" * (MAX_RECORD_BYTES + 10)), "$"),
    # bad UTF-8 in a member nobody reads: msgspec skips it unchecked, the reference refuses it
    (json.dumps({**face_expression(), "extra": "\ud800"}, ensure_ascii=False).encode("utf-8", "surrogatepass"), "$"),
]


@FAST_PATHS
def test_each_invalid_record_is_rejected_with_the_reference_reasons_and_its_line(fast: FastDecoder) -> None:
    good = [face_expression() for _ in range(40)]  # batches decode together: the bad ones must not spoil them
    events = good + [bad for bad, _ in BAD]
    decoded = decode_lines(_records(events), fast=fast)
    assert sum(t.num_rows for t in decoded.tables["face_expression"]) == len(good)
    assert sorted(r.line for r in decoded.rejected) == list(range(len(good) + 1, len(events) + 1))
    for rejected in decoded.rejected:
        _bad, field = BAD[rejected.line - len(good) - 1]
        assert any(reason.startswith(field) for reason in rejected.reasons), (field, rejected.reasons)
        try:
            parse_event(rejected.raw, max_bytes=MAX_RECORD_BYTES)
        except ValidationError as error:
            assert rejected.reasons == tuple(str(p) for p in error.problems)


@FAST_PATHS
def test_a_window_end_too_late_for_the_lake_is_quarantined_never_wrapped_around(fast: FastDecoder) -> None:
    latest = MAX_INSTANT_MS  # 9999-12-31T23:59:59.999Z: the contract allows more, a timestamp holds no more
    events = [sentiment_window(window_end_ms=latest), sentiment_window(window_end_ms=latest + 1),
              sentiment_window(window_end_ms=2**62), sentiment_window()]
    decoded = decode_lines(_records(events), fast=fast)
    kept = pa.concat_tables(decoded.tables["sentiment_window"])
    assert kept.column("window_end").cast(pa.int64()).to_pylist() == [latest * 1000, events[3]["window_end_ms"] * 1000]
    assert [r.line for r in decoded.rejected] == [2, 3]
    assert all("does not fit the lake's columns: window_end_ms" in r.reasons[0] for r in decoded.rejected)


@FAST_PATHS
def test_a_record_torn_over_two_lines_never_merges_into_one_and_no_line_is_shifted(fast: FastDecoder) -> None:
    whole = json.dumps(face_expression()).encode()
    torn_head = whole[:-1] + b', "extra": [{"b": 1}'  # with the next line, one valid object
    torn_tail = b'{"c": 2}]}'
    two_on_one = whole + b"," + json.dumps(face_expression()).encode()  # would keep a count of lines right
    events: list[Any] = [face_expression(), torn_head, torn_tail, two_on_one, face_expression()]
    decoded = decode_lines(_records(events), fast=fast)
    assert sum(t.num_rows for t in decoded.tables["face_expression"]) == 2
    assert [r.line for r in decoded.rejected] == [2, 3, 4]
    assert [r.raw for r in decoded.rejected] == [torn_head, torn_tail, two_on_one]


_MUTATIONS: st.SearchStrategy[Any] = st.sampled_from([
    None, 0, -1, 1.5, 1e300, -1e300, 2**64, 2**63, -(2**63), 2**63 - 1, "", "x", "cafe 1", "cafe\n", "1.0", "2.0",
    "1.7", "0.9", True, False, {}, [], "track_end", "happy", "01J8ZS3B0000000000000000AB", float("nan"),
    float("inf"), 0.005, 1, 10**20, "caf\u00e9", "\ud800",
])
# Whole-record mutations of the bytes: what a JSON library may let through and the contract does not.
_BYTES: st.SearchStrategy[Any] = st.sampled_from([
    lambda raw: raw, lambda raw: b"\xef\xbb\xbf" + raw, lambda raw: raw.replace(b'"cafe-', b'"caf\xff-', 1),
    lambda raw: b"  " + raw + b" \r", lambda raw: raw.replace(b'"kind"', b'"k\\u0069nd"', 1),
    lambda raw: raw[:-1] + b', "kind": "track_end"}', lambda raw: raw.replace(b"120.0", b"1.2e2", 1),
    lambda raw: raw[:-1] + b', "site_id": "cafe-2"}',  # a repeated key: the last one counts
])
_PATHS = st.sampled_from(["event_id", "site_id", "camera_id", "zone", "track_id", "kind", "duration_ms",
                          "frame_count", "schema_version", "event_time_ms", "valence", "top_class", "box.x",
                          "quality.face_px", "quality.sharpness", "quality.usable", "probabilities.happy",
                          "probabilities.sad", "model.id", "edge_version", "extra"])


@FAST_PATHS
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_PATHS, st.one_of(_MUTATIONS, st.just(_DELETE))), min_size=1, max_size=3), _BYTES)
def test_fast_path_verdict_and_rows_equal_the_reference(fast: FastDecoder, mutations: list[tuple[str, Any]],
                                                        mangle: Any) -> None:
    event = copy.deepcopy(face_expression())
    for path, value in mutations:
        *parents, leaf = path.split(".")
        target = event
        for parent in parents:
            target = target[parent]
        if value is _DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    raw = mangle(json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    decoded = decode_lines(_records([face_expression(), raw]), fast=fast)
    try:
        accepted = parse_event(raw, max_bytes=MAX_RECORD_BYTES)
        reference_accepts = True
    except ValidationError:
        reference_accepts = False
    rows = sum(t.num_rows for t in decoded.tables.get("face_expression", []))
    stored = {k: v for k, v in accepted.items() if k != "extra"} if reference_accepts else {}  # unknown: not kept
    if reference_accepts and _fits_int64(stored):
        assert rows == 2 and not decoded.rejected
        table = pa.concat_tables(decoded.tables["face_expression"])
        got = table.filter(pc.equal(table.column("event_id"), accepted["event_id"]))  # the mutated record's row
        assert got.to_pylist() == _reference_rows("face_expression", accepted)
    elif reference_accepts:  # valid JSON, but no Parquet column holds it: quarantined, saying so
        assert rows == 1 and "does not fit the lake's columns" in decoded.rejected[0].reasons[0]
    else:
        assert rows == 1 and [r.line for r in decoded.rejected] == [2]


def _fits_int64(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_fits_int64(v) for v in value.values())
    return not (isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63)


_KINDS = st.sampled_from(sorted(SAMPLES))


@FAST_PATHS
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_KINDS, st.data())
def test_every_kind_null_or_missing_fields_get_the_reference_verdict(fast: FastDecoder, name: str,
                                                                     data: st.DataObject) -> None:
    event = SAMPLES[name]()
    paths = [f.name for f in CONTRACTS[name].fields] + [
        f"{f.name}.{child.name}" for f in CONTRACTS[name].fields if isinstance(event.get(f.name), dict)
        for child in f.fields]
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        *parents, leaf = path.split(".")
        target = event
        for parent in parents:
            target = target[parent] if isinstance(target.get(parent), dict) else {}
        value = data.draw(st.one_of(st.just(_DELETE), _MUTATIONS))
        if value is _DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    raw = json.dumps(event).encode()
    decoded = decode_lines(_records([raw]), fast=fast)
    try:
        accepted = parse_event(raw, max_bytes=MAX_RECORD_BYTES)
    except ValidationError as error:
        assert [r.reasons for r in decoded.rejected] == [tuple(str(p) for p in error.problems)]
        return
    if not _fits_int64(accepted):
        return
    try:
        expected = _reference_rows(name, accepted)
    except (pa.ArrowInvalid, OverflowError):
        # valid on the wire, but an instant beyond the lake's microsecond timestamps: quarantined, not lost
        assert [r.reasons[0].split(":")[1].strip() for r in decoded.rejected] == ["does not fit the lake's columns"]
        return
    assert not decoded.rejected
    assert pa.concat_tables(decoded.tables[name]).to_pylist() == expected


def _reference_rows(name: str, accepted: dict[str, Any]) -> list[dict[str, Any]]:
    """The reference validator's output as the lake stores it (unknown fields left out)."""
    contract = CONTRACTS[name]
    return pa.Table.from_pylist([lake_row(contract, accepted)], schema=lake_schema(contract)).to_pylist()


@FAST_PATHS
def test_rows_keep_line_order_whichever_path_took_them(fast: FastDecoder) -> None:
    # A newer minor's field (every fast path leaves unknown fields to the reference, which accepts
    # them) and a float beyond 2**63; the copy of its event_id on the next line takes the fast path.
    first = face_expression(gaze=0.5)
    first["quality"] = {**first["quality"], "sharpness": 2.0**64}
    later = face_expression(event_id=first["event_id"])
    events = [face_expression(), first, later, face_expression()]
    decoded = decode_lines(_records(events), fast=fast)
    assert decoded.reference == 1 and decoded.fast == 3 and not decoded.rejected
    table = pa.concat_tables(decoded.tables["face_expression"])
    assert table.column("event_id").to_pylist() == [e["event_id"] for e in events]
    assert table.column("quality").to_pylist()[1]["sharpness"] == 2.0**64  # the first copy is first


@FAST_PATHS
def test_empty_and_whitespace_lines_are_no_records_and_shift_no_line_number(fast: FastDecoder) -> None:
    events: list[Any] = [face_expression(), b"", b"  \r", face_expression(), b'{"schema": "nope"}', b"\t"]
    decoded = decode_lines(_records(events), fast=fast)
    assert decoded.records == 3 and decoded.fast == 2
    assert [r.line for r in decoded.rejected] == [5]


@FAST_PATHS
def test_a_fast_decoder_that_refuses_everything_changes_no_row_and_no_reason(fast: FastDecoder) -> None:
    # The seam a native decoder plugs into: what it refuses, the reference decides, in line order.
    events: list[Any] = [SAMPLES[name]() for name in sorted(SAMPLES)] + [b"{not json", face_expression()]
    quick = decode_lines(_records(events), fast=fast)
    slow = decode_lines(_records(events), fast=lambda lines: FastColumns(refused=list(range(len(lines)))))
    assert slow.fast == 0 and slow.reference == quick.reference + quick.fast == len(events)
    assert [(r.line, r.reasons) for r in slow.rejected] == [(r.line, r.reasons) for r in quick.rejected]
    assert sorted(slow.tables) == sorted(quick.tables)
    for name in quick.tables:
        plain = lake_schema(CONTRACTS[name])  # the values (dictionaries differ as the rows came)
        assert pa.concat_tables(slow.tables[name]).cast(plain).equals(pa.concat_tables(quick.tables[name]).cast(plain))


@FAST_PATHS
def test_a_line_that_is_no_utf8_before_one_with_non_ascii_text_shifts_no_row(fast: FastDecoder) -> None:
    # msgspec's path drops the non-UTF-8 line before decoding: each row's size must still be its own line's.
    accented = face_expression()
    accented["model"]["id"] = "mod\u00e8le"  # non-ASCII: the C decoder leaves it to msgspec's path
    events: list[Any] = [b"\x80{", face_expression(), json.dumps(accented, ensure_ascii=False).encode()]
    decoded = decode_lines(_records(events), fast=fast)
    assert decoded.records == 3 and [r.line for r in decoded.rejected] == [1]
    rows = pa.concat_tables(decoded.tables["face_expression"])
    assert [model["id"] for model in rows.column("model").to_pylist()] == [events[1]["model"]["id"], "mod\u00e8le"]
