from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import ULID_PATTERN, encode_ulid, event_id_time_ms, new_event_id

TIMES = st.integers(min_value=0, max_value=(1 << 48) - 1)


@given(TIMES, TIMES)
def test_ids_sort_like_their_times(a: int, b: int) -> None:
    first, second = new_event_id(a), new_event_id(b)
    assert ULID_PATTERN.match(first) and ULID_PATTERN.match(second)
    assert event_id_time_ms(first) == a
    if a < b:
        assert first < second


def test_ids_are_unique_within_one_millisecond() -> None:
    ids = {new_event_id(1_790_000_000_000) for _ in range(10_000)}
    assert len(ids) == 10_000


def ulid_by_the_spec(time_ms: int, entropy: bytes) -> str:
    """The ULID spec read literally: the 128-bit value as 26 base-32 digits, most significant first."""
    value = (time_ms << 80) | int.from_bytes(entropy, "big")
    return "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(value >> (5 * i)) & 31] for i in reversed(range(26)))


@given(TIMES, st.binary(min_size=10, max_size=10))
def test_encoder_writes_the_spec_digits(time_ms: int, entropy: bytes) -> None:
    assert encode_ulid(time_ms, entropy) == ulid_by_the_spec(time_ms, entropy)


@pytest.mark.parametrize(("time_ms", "entropy", "message"), [
    (-1, bytes(10), "48-bit timestamp"), (1 << 48, bytes(10), "48-bit timestamp"), (0, bytes(9), "10 bytes")])
def test_encoder_refuses_what_does_not_fit(time_ms: int, entropy: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_ulid(time_ms, entropy)
