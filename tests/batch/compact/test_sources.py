"""Reading raw files block by block: gunzip streamed, lines across block boundaries, damaged gzip."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from batch.compact import gunzip as gunzip_module
from batch.compact.gunzip import gunzip, gunzip_blocks
from batch.compact.sources import SourceError, decode_blocks, from_directory, lines_of_blocks


def _lines(seed: int, count: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * ((seed * i) % 97)) for i in range(count))


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[at:at + size] for at in range(0, len(data), size)]


def test_isal_is_the_inflater_when_installed() -> None:
    assert gunzip_module._inflate.__name__ == "isal.isal_zlib"


@settings(max_examples=60, deadline=None)
@given(members=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 400)), min_size=1, max_size=3),
       damage=st.one_of(st.none(), st.tuples(st.sampled_from(["cut", "flip"]), st.floats(0, 1), st.integers(1, 255))),
       piece=st.integers(1, 5000), block=st.integers(1, 9000))
def test_a_gzip_stream_gives_its_data_or_says_why_not_however_it_is_read(
        members: list[tuple[int, int]], damage: tuple[str, float, int] | None, piece: int, block: int) -> None:
    original = b"".join(_lines(seed, count) for seed, count in members)
    data = b"".join(gzip.compress(_lines(seed, count), compresslevel=1) for seed, count in members)
    if damage is not None:
        how, where, xor = damage
        at = min(int(where * len(data)), len(data) - 1)
        data = data[:at] if how == "cut" else data[:at] + bytes([data[at] ^ xor]) + data[at + 1:]
    assume(data)  # an empty file is no gzip stream: nothing to keep, nothing wrong
    kept, problem = gunzip(data)
    assert problem is not None or kept == original  # nothing lost or changed without a word
    # (damaged deflate data may inflate to other bytes before the checksum finds out: those lines
    # go through the contract's checks like any other, and the file is reported)
    if damage is None:
        assert (kept, problem) == (original, None)
    problems: list[str] = []
    blocks = list(gunzip_blocks(_pieces(data, piece), problems, block))
    assert all(0 < len(b) <= block for b in blocks)
    streamed = b"".join(blocks)
    assert bool(problems) == (problem is not None) and (problems or streamed == original)
    assert streamed.startswith(kept) or kept.startswith(streamed)  # one inflation, cut sooner or later


def test_good_members_inflate_whole_and_a_corrupt_one_is_named_by_its_byte() -> None:
    first = gzip.compress(_lines(1, 200))
    second = bytearray(gzip.compress(_lines(2, 200)))
    second[len(second) // 2] ^= 0xFF
    kept, problem = gunzip(first + bytes(second))
    assert kept.startswith(_lines(1, 200)) and _lines(1, 200) + _lines(2, 200) != kept
    assert problem is not None and problem.startswith(f"corrupt gzip at byte {len(first)}: ")
    assert gunzip(first + first) == (_lines(1, 200) * 2, None)


def test_a_wrong_checksum_or_length_in_the_trailer_keeps_every_line_and_says_so() -> None:
    member = gzip.compress(_lines(3, 100))
    for at in range(len(member) - 8, len(member)):  # CRC-32, then ISIZE
        broken = member[:at] + bytes([member[at] ^ 0x01]) + member[at + 1:]
        with_zlib = zlib.decompressobj(wbits=31)
        try:
            with_zlib.decompress(broken)
            raise AssertionError("zlib took a broken trailer")
        except zlib.error:
            pass
        kept, problem = gunzip(broken)
        assert kept == _lines(3, 100)
        assert problem is not None and "corrupt gzip at byte 0" in problem and "CRC-32 or length" in problem


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
