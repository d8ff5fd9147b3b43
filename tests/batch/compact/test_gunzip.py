"""gunzip streamed: members after members, any piece and block size, damage reported and the
readable part kept (a wrong checksum keeps every line)."""

from __future__ import annotations

import gzip
import zlib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from batch.compact import gunzip as gunzip_module
from batch.compact.gunzip import gunzip, gunzip_blocks


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
    packed = [gzip.compress(_lines(seed, count), compresslevel=1) for seed, count in members]
    data = b"".join(packed)
    # a cut right after a member leaves a whole gzip stream of the members before it
    whole_streams = {sum(map(len, packed[:k])): b"".join(_lines(*m) for m in members[:k])
                     for k in range(1, len(members))}
    if damage is not None:
        how, where, xor = damage
        at = min(int(where * len(data)), len(data) - 1)
        data = data[:at] if how == "cut" else data[:at] + bytes([data[at] ^ xor]) + data[at + 1:]
    assume(data)  # an empty file is no gzip stream: nothing to keep, nothing wrong
    kept, problem = gunzip(data)
    cut_between_members = damage is not None and damage[0] == "cut" and whole_streams.get(len(data)) == kept
    assert problem is not None or kept == original or cut_between_members  # nothing lost without a word
    # (damaged deflate data may inflate to other bytes before the checksum finds out: those lines
    # go through the contract's checks like any other, and the file is reported)
    if damage is None:
        assert (kept, problem) == (original, None)
    problems: list[str] = []
    blocks = list(gunzip_blocks(_pieces(data, piece), problems, block))
    assert all(0 < len(b) <= block for b in blocks)
    streamed = b"".join(blocks)
    assert bool(problems) == (problem is not None) and (problems or streamed == kept)
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
