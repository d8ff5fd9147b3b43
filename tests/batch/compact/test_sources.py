"""gunzip: isal inflates, but what is kept and what is said about bad gzip is exactly zlib's."""

from __future__ import annotations

import gzip
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from batch.compact import sources
from batch.compact.sources import _gunzip


def _zlib_gunzip(data: bytes) -> tuple[bytes, str | None]:
    """The reference: zlib alone, member after member (what `_gunzip` did before isal)."""
    out: list[bytes] = []
    position = 0
    while position < len(data):
        inflater = zlib.decompressobj(wbits=31)
        try:
            out.append(inflater.decompress(data[position:]))
        except zlib.error as error:
            return b"".join(out), f"corrupt gzip at byte {position}: {error}"
        if not inflater.eof:
            return b"".join(out), f"gzip cut short (member starting at byte {position} has no end)"
        position = len(data) - len(inflater.unused_data)
    return b"".join(out), None


def test_isal_is_the_inflater_when_installed() -> None:
    assert sources._inflate.__name__ == "isal.isal_zlib"


def _lines(seed: int, count: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * ((seed * i) % 97)) for i in range(count))


@settings(max_examples=60, deadline=None)
@given(members=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 400)), min_size=1, max_size=3),
       damage=st.one_of(st.none(), st.tuples(st.sampled_from(["cut", "flip"]), st.floats(0, 1), st.integers(1, 255))))
def test_gunzip_keeps_and_reports_exactly_what_zlib_does(
        members: list[tuple[int, int]], damage: tuple[str, float, int] | None) -> None:
    data = b"".join(gzip.compress(_lines(seed, count), compresslevel=1) for seed, count in members)
    if damage is not None:
        how, where, xor = damage
        at = min(int(where * len(data)), len(data) - 1)
        data = data[:at] if how == "cut" else data[:at] + bytes([data[at] ^ xor]) + data[at + 1:]
    assert _gunzip(data) == _zlib_gunzip(data)


def test_good_members_inflate_whole_and_a_corrupt_one_is_named_by_its_byte() -> None:
    first = gzip.compress(_lines(1, 200))
    second = bytearray(gzip.compress(_lines(2, 200)))
    second[len(second) // 2] ^= 0xFF
    kept, problem = _gunzip(first + bytes(second))
    assert kept == _lines(1, 200)
    assert problem is not None and problem.startswith(f"corrupt gzip at byte {len(first)}: Error -3")
    assert _gunzip(first + first) == (_lines(1, 200) * 2, None)


def test_a_wrong_checksum_or_length_in_the_trailer_is_corrupt_gzip_too() -> None:
    member = gzip.compress(_lines(3, 100))
    for at in range(len(member) - 8, len(member)):  # CRC-32, then ISIZE
        broken = member[:at] + bytes([member[at] ^ 0x01]) + member[at + 1:]
        kept, problem = _gunzip(broken)
        assert (kept, problem) == _zlib_gunzip(broken) and problem is not None and "corrupt gzip" in problem
