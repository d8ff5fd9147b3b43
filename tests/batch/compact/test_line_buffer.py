"""A file's lines in place (`LineBuffer`): the same lines `bytes.split` cut, numbered the same, blanks found the same.

Both newline scans (C's `line_ends` where the extension is built, numpy's otherwise) against
`data.split(b"\\n")` on arbitrary bytes (CR, CRLF, blanks, no final newline), the batches `_split`
yields against the list it used to build, and the C reader's bounds: offsets outside the buffer
are refused, never read.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.compact import line_buffer
from batch.compact.line_buffer import LineBuffer
from batch.compact.native_decode import IN_PLACE, _decoder
from batch.compact.sources import _split
from tests.schemas.events import face_expression

SCANS = pytest.mark.parametrize("native", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(line_buffer._native_line_ends is None,
                                                reason="schemas._record not built (pip install -e .)")),
])
PIECES = st.sampled_from([b"\n", b"\r", b"\r\n", b" ", b"\t", b"\x0b\x0c", b"{}", b"x", b"\n\n", b"\x00", b"\xff"])
TEXT = st.lists(PIECES | st.binary(max_size=6), max_size=40).map(b"".join)


def old_split(data: bytes) -> list[bytes]:
    """What `sources._split` did before lines stayed in place."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


@SCANS
@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_the_lines_in_place_are_the_lines_split_cuts(native: bool, data: bytes) -> None:
    lines = LineBuffer.split(data, native=native)
    expected = old_split(data)
    assert len(lines) == len(expected)
    assert list(lines) == expected
    assert [lines[i] for i in range(len(lines))] == expected
    assert all(isinstance(line, bytes) for line in lines)
    if expected:
        assert lines[-1] == expected[-1]
        assert list(lines[1:]) == expected[1:]


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_the_records_are_the_lines_that_are_neither_empty_nor_space(data: bytes) -> None:
    lines = LineBuffer.split(data)
    kept = [i for i, line in enumerate(old_split(data)) if line and not line.isspace()]
    records = lines.records()
    if records is None:
        assert kept == list(range(len(lines)))
    else:
        assert records.tolist() == kept
        assert list(lines.take(records)) == [lines[i] for i in kept]


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(1, 5), st.booleans())
def test_split_batches_hold_the_same_lines_and_numbers_as_the_list_it_built(data: bytes, batch_lines: int,
                                                                              torn_tail: bool) -> None:
    kept = data if torn_tail else data[: data.rfind(b"\n") + 1]  # what from_stream_state cut off before
    expected = old_split(kept)
    batches = list(_split("f", data, batch_lines, torn_tail=torn_tail))
    assert all(isinstance(batch.lines, LineBuffer) and batch.lines.data is data for batch in batches)
    assert [list(batch.lines) for batch in batches] == [expected[s:s + batch_lines]
                                                         for s in range(0, len(expected), batch_lines)]
    assert [n for batch in batches for n in batch.numbers] == list(range(1, len(expected) + 1))


def test_a_memoryview_or_bytearray_is_read_like_bytes() -> None:
    data = b'{"a": 1}\r\n\n  \nlast'
    for form in (memoryview(data), bytearray(data)):
        assert list(LineBuffer.split(form)) == old_split(data)
        assert list(LineBuffer.split(form, native=False)) == old_split(data)


needs_native = pytest.mark.skipif(not IN_PLACE and not os.environ.get("MOODLENS_REQUIRE_NATIVE"),
                                  reason="schemas._record not built, or built before columns_in (pip install -e .)")


@pytest.mark.skipif(not os.environ.get("MOODLENS_REQUIRE_NATIVE"), reason="the extension is optional here")
def test_the_built_extension_reads_lines_in_place_where_it_is_required() -> None:
    """`make test` sets MOODLENS_REQUIRE_NATIVE: a stale build (no `columns_in`) fails here."""
    assert IN_PLACE and line_buffer._native_line_ends is not None


@needs_native
def test_the_c_reader_refuses_lines_outside_its_buffer_and_reads_the_others_in_place() -> None:
    decoder = _decoder()
    assert decoder is not None
    raw = json.dumps(face_expression()).encode()
    data = raw + b"\n" + raw
    at = len(raw) + 1
    starts = np.array([0, at, -1, at, at + 1, 5, 0], dtype=np.int64)
    ends = np.array([len(raw), len(data), len(raw), len(data) + 1, at, 4, 2**62], dtype=np.int64)
    consumed, refused, tables = decoder.columns_in(data, starts, ends, 1 << 16)
    assert consumed == 7 and refused == [2, 3, 4, 5, 6]
    found = [table for table in tables if table is not None]
    assert len(found) == 1 and found[0][0] == 2
    assert np.frombuffer(found[0][1], dtype=np.int64).tolist() == [0, 1]


@needs_native
def test_the_c_reader_wants_one_start_and_one_end_per_line() -> None:
    decoder = _decoder()
    assert decoder is not None
    with pytest.raises(ValueError, match="one length"):
        decoder.columns_in(b"{}", np.zeros(2, dtype=np.int64), np.zeros(1, dtype=np.int64), 100)
    with pytest.raises(ValueError, match="one length"):
        decoder.columns_in(b"{}", np.zeros(3, dtype=np.int8), np.zeros(3, dtype=np.int8), 100)
    with pytest.raises(TypeError):
        decoder.columns_in("{}", np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), 100)
    with pytest.raises(ValueError, match="one start and one end"):
        LineBuffer(b"", np.zeros(2, dtype=np.int64), np.zeros(1, dtype=np.int64))
