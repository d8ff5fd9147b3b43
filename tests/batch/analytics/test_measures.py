"""Measures: intervals contain their estimate, stay in range, and nothing shows below min_tracks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batch.analytics.measures import mean_valence, net_score, net_score_change


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int, int]:
    tracks = draw(st.integers(0, 500))
    positive = draw(st.integers(0, tracks))
    negative = draw(st.integers(0, tracks - positive))
    return positive, negative, tracks


@given(counts(), st.integers(1, 20))
def test_net_score_is_suppressed_below_min_tracks_else_inside_its_interval(c: tuple[int, int, int], m: int) -> None:
    estimate = net_score(*c, min_tracks=m)
    if c[2] < m:
        assert estimate is None
    else:
        assert estimate is not None
        assert -1 <= estimate.low <= estimate.value <= estimate.high <= 1
        assert estimate.value == (c[0] - c[1]) / c[2]


@given(counts(), counts())
def test_week_on_week_change_needs_enough_customers_in_both_weeks(now: tuple[int, int, int],
                                                                   before: tuple[int, int, int]) -> None:
    change = net_score_change(now, before, 5)
    if min(now[2], before[2]) < 5:
        assert change is None
    else:
        assert change is not None and change.low <= change.value <= change.high


@given(st.lists(st.floats(-1, 1), min_size=0, max_size=60))
def test_mean_valence_interval_contains_the_mean(values: list[float]) -> None:
    estimate = mean_valence(sum(values), sum(v * v for v in values), len(values), 5)
    if len(values) < 5:
        assert estimate is None
    else:
        assert estimate is not None
        assert estimate.low - 1e-9 <= estimate.value <= estimate.high + 1e-9
