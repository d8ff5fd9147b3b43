"""A file's lines decoded in place (`LineBuffer`, `Decoder.columns_in`) give what the same lines as bytes give.

Generated files mix valid events of every kind, mutated records, blank and space-only lines,
CRLF endings, lines at and over the record limit, and arbitrary bytes, with or without a final
newline, cut into batches of any size. `decode_lines` over the batches `sources._split` now yields
(lines in place) and over the lists it used to yield must agree on everything: the tables (schema
and metadata included), each reject's source, line number, raw bytes and reasons, and the counts;
with each fast path, and with the C decoder alone (nothing handed on to msgspec).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.compact import native_decode
from batch.compact.decode import Decoded, Lines, decode_lines
from batch.compact.fast_decode import FastDecoder, decode_fast
from batch.compact.line_buffer import LineBuffer
from batch.compact.native_decode import DECODE_PATH, IN_PLACE, decode_native
from batch.compact.sources import _split
from schemas.contract import MAX_RECORD_BYTES
from tests.schemas.contract_strategies import mutated_records, valid_events
from tests.schemas.events import face_expression

_NATIVE_MISSING = DECODE_PATH != "native" and not os.environ.get("MOODLENS_REQUIRE_NATIVE")
FAST_PATHS = pytest.mark.parametrize("fast", [
    pytest.param(decode_fast, id="msgspec"),
    pytest.param(decode_native, id="native",
                 marks=pytest.mark.skipif(_NATIVE_MISSING, reason="schemas._record not built (pip install -e .)")),
])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _padded(size: int, end: bytes = b"") -> bytes:
    """A valid event spread with spaces to `size` bytes in all (its `end` included)."""
    raw = json.dumps(face_expression()).encode()
    return raw[:-1] + b" " * (size - len(raw) - len(end)) + b"}" + end


SIZES = [_padded(MAX_RECORD_BYTES), _padded(MAX_RECORD_BYTES + 1), _padded(MAX_RECORD_BYTES + 1, b"\r"),
         _padded(MAX_RECORD_BYTES, b"\r"), b"x" * (MAX_RECORD_BYTES + 10)]
LINE = st.one_of(
    valid_events().map(lambda event: json.dumps(event).encode()),
    valid_events().map(lambda event: json.dumps(event).encode() + b"\r"),  # CRLF: the \r stays the line's
    mutated_records().filter(lambda raw: b"\n" not in raw),
    st.sampled_from([b"", b" ", b"\r", b"\t\x0b\x0c ", b" {", b"{", b"not json", b"\x00"]),
    st.sampled_from(SIZES),
    st.binary(max_size=30).map(lambda raw: raw.replace(b"\n", b"")),
)
FILES = st.tuples(st.lists(LINE, max_size=12), st.booleans()).map(
    lambda drawn: b"\n".join(drawn[0]) + (b"\n" if drawn[1] else b""))


def _list_batches(name: str, data: bytes, batch_lines: int) -> list[Lines]:
    """The batches `sources._split` yielded before: one bytes object per line."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return [Lines.of(name, lines[start:start + batch_lines], start + 1) for start in range(0, len(lines), batch_lines)]


def _decode_all(batches: list[Lines], fast: FastDecoder) -> Decoded:
    out = Decoded()
    for batch in batches:
        decode_lines(batch, out, fast=fast)
    return out


def _tables(decoded: Decoded) -> dict[str, pa.Table]:
    return {name: pa.concat_tables(parts) for name, parts in decoded.tables.items()}


@FAST_PATHS
@SETTINGS
@given(FILES, st.integers(1, 6))
def test_decoding_in_place_equals_decoding_the_lines_as_bytes(fast: FastDecoder, data: bytes, batch_lines: int) -> None:
    in_place = list(_split("file.jsonl", data, batch_lines))
    assert all(isinstance(batch.lines, LineBuffer) for batch in in_place)
    buffered = _decode_all(in_place, fast)
    listed = _decode_all(_list_batches("file.jsonl", data, batch_lines), fast)
    assert buffered.rejected == listed.rejected
    assert (buffered.records, buffered.fast, buffered.reference) == (listed.records, listed.fast, listed.reference)
    mine, theirs = _tables(buffered), _tables(listed)
    assert list(mine) == list(theirs)
    for name, table in mine.items():
        assert table.equals(theirs[name], check_metadata=True), name


@pytest.mark.skipif(not IN_PLACE and not os.environ.get("MOODLENS_REQUIRE_NATIVE"),
                    reason="schemas._record not built, or built before columns_in (pip install -e .)")
@SETTINGS
@given(FILES)
def test_the_c_decoder_alone_gives_the_same_verdicts_in_place(data: bytes) -> None:
    buffer = LineBuffer.split(data)
    lines = list(buffer)
    in_place, as_bytes = decode_native(buffer, then=None), decode_native(lines, then=None)
    assert in_place.refused == as_bytes.refused
    assert list(in_place.tables) == list(as_bytes.tables)
    for name, (table, rows) in in_place.tables.items():
        other, other_rows = as_bytes.tables[name]
        assert table.equals(other, check_metadata=True) and np.array_equal(rows, other_rows)


def test_a_refused_line_keeps_its_number_and_bytes_after_blank_lines_and_a_crlf_ending() -> None:
    good: dict[str, Any] = face_expression()
    big = _padded(MAX_RECORD_BYTES + 1)
    data = b"\n  \n\r\n" + json.dumps(good).encode() + b"\r\n{oops}\r\n\n" + big  # no final newline
    decoded = _decode_all(list(_split("f", data, 2)), decode_native if not _NATIVE_MISSING else decode_fast)
    assert decoded.records == 3 and decoded.fast == 1
    assert [(r.source, r.line, r.raw) for r in decoded.rejected] == [("f", 5, b"{oops}\r"), ("f", 7, big)]
    assert str(MAX_RECORD_BYTES) in " ".join(decoded.rejected[1].reasons)


@pytest.mark.skipif(_NATIVE_MISSING, reason="schemas._record not built (pip install -e .)")
def test_a_build_without_columns_in_reads_the_same_lines_as_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\n".join([json.dumps(face_expression()).encode(), b"{bad", b" ", json.dumps(face_expression()).encode()])
    in_place = _decode_all(list(_split("f", data, 3)), decode_native)
    monkeypatch.setattr(native_decode, "IN_PLACE", False)  # as with an extension built before it
    as_bytes = _decode_all(list(_split("f", data, 3)), decode_native)
    assert as_bytes.rejected == in_place.rejected and [r.line for r in as_bytes.rejected] == [2]
    assert (as_bytes.records, as_bytes.fast) == (in_place.records, in_place.fast) == (3, 2)
    assert _tables(as_bytes)["face_expression"].equals(_tables(in_place)["face_expression"])
