from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import ULID_PATTERN, event_id_time_ms, new_event_id

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
