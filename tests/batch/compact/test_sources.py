"""Reading raw files block by block: lines across block boundaries, a damaged gzip file's lines."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from batch.compact.sources import SourceError, decode_blocks, from_directory, lines_of_blocks


def _lines(seed: int, count: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * ((seed * i) % 97)) for i in range(count))


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[at:at + size] for at in range(0, len(data), size)]


def test_a_gzip_file_with_a_bad_checksum_keeps_its_readable_lines(tmp_path: Path) -> None:
    member = bytearray(gzip.compress(_lines(4, 1000)))
    member[-8] ^= 0xFF  # the CRC-32 in the trailer
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.gz").write_bytes(bytes(member))
    errors: list[SourceError] = []
    lines = [line for batch in from_directory(tmp_path / "raw", errors) for line in batch.lines]
    assert lines == _lines(4, 1000).splitlines()
    [error] = errors
    assert "a.gz" in error.source and "kept the 1000 complete lines" in error.reason


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=300).map(lambda b: b.replace(b"\x1f", b"")),
       block=st.integers(1, 40), batch_lines=st.integers(1, 7), torn_tail=st.booleans())
def test_lines_read_block_by_block_are_the_lines_of_the_whole_with_their_numbers(
        data: bytes, block: int, batch_lines: int, torn_tail: bool) -> None:
    whole = data.split(b"\n")
    if whole and whole[-1] == b"":
        whole.pop()
    if not torn_tail and data and not data.endswith(b"\n"):
        whole.pop()
    batches = list(lines_of_blocks("f", _pieces(data, block), batch_lines, torn_tail))
    assert [line for batch in batches for line in batch.lines] == whole
    assert [n for batch in batches for n in batch.numbers] == list(range(1, len(whole) + 1))
    assert all(len(batch.lines) <= batch_lines for batch in batches)


def test_a_plain_file_and_its_gzip_give_the_same_lines_whatever_the_blocks() -> None:
    data = _lines(5, 3000)
    errors: list[SourceError] = []
    plain = [line for b in decode_blocks("a.jsonl", _pieces(data, 4096), errors) for line in b.lines]
    packed = [line for b in decode_blocks("a.gz", _pieces(gzip.compress(data), 1000), errors) for line in b.lines]
    assert plain == packed == data.splitlines() and errors == []
