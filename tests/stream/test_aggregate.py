"""Mergeable aggregates and the measures computed from them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.expressions import EXPRESSIONS
from stream.aggregate import PaneAggregate, RunningStats, WindowAggregate
from stream.measures import net_score_interval, t_975, valence_interval, window_event
from tests.stream.helpers import T0

SETTINGS = settings(max_examples=80, deadline=None)

# an event id names one event: same id, same content
votes = st.builds(lambda t, top, v: (t, f"{t}:{top}:{v!r}", top, v), st.integers(T0, T0 + 59_999),
                  st.sampled_from(EXPRESSIONS), st.floats(-1, 1))
panes = st.builds(PaneAggregate, st.integers(0, 50), st.integers(0, 50),
                  st.dictionaries(st.sampled_from(["t1", "t2", "t3", "t4"]), votes, max_size=4),
                  st.none() | st.integers(T0, T0 + 59_999))
windows = st.builds(WindowAggregate, st.integers(0, 20), st.integers(0, 99), st.integers(0, 9),
                    st.tuples(*[st.integers(0, 9)] * len(EXPRESSIONS)), st.integers(-10**7, 10**7),
                    st.integers(0, 10**13))


@SETTINGS
@given(panes, panes, panes)
def test_pane_merge_is_associative_and_commutative(a: PaneAggregate, b: PaneAggregate, c: PaneAggregate) -> None:
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert PaneAggregate().merge(a) == a


@SETTINGS
@given(panes)
def test_pane_votes_are_idempotent_and_survive_json(a: PaneAggregate) -> None:
    assert a.merge(a).votes == a.votes
    assert PaneAggregate.from_json(a.to_json()) == a


@SETTINGS
@given(windows, windows, windows)
def test_window_addition_is_associative_and_commutative(a: WindowAggregate, b: WindowAggregate,
                                                        c: WindowAggregate) -> None:
    assert a + b == b + a and (a + b) + c == a + (b + c) and WindowAggregate() + a == a


@SETTINGS
@given(st.lists(st.floats(-1, 1), min_size=1, max_size=30), st.integers(0, 30))
def test_running_stats_merge_matches_one_pass(values: list[float], cut: int) -> None:
    whole, left, right = RunningStats(), RunningStats(), RunningStats()
    for i, v in enumerate(values):
        whole = whole.add(v)
        left, right = (left.add(v), right) if i < cut else (left, right.add(v))
    merged = left.merge(right)
    assert merged.count == whole.count and merged.mean == pytest.approx(whole.mean, abs=1e-9)


def test_latest_vote_of_a_track_wins_across_panes() -> None:
    early = PaneAggregate(votes={"t": (T0, "A", "sad", -0.8)})
    late = PaneAggregate(votes={"t": (T0 + 1, "A", "happy", 1.0)})
    agg = WindowAggregate.from_panes([late, early])
    assert agg.tracks == 1 and agg.positive == 1 and agg.negative == 0


@pytest.mark.parametrize(("pos", "neg", "n", "net"), [(5, 0, 5, 1.0), (0, 5, 5, -1.0), (3, 3, 10, 0.0),
                                                      (7, 1, 10, 0.6), (1, 0, 1, 1.0)])
def test_net_score_and_its_interval(pos: int, neg: int, n: int, net: float) -> None:
    counts = (neg, 0, 0, pos, 0, 0, n - pos - neg)  # angry .. neutral
    point, interval = net_score_interval(WindowAggregate(n, n, 0, counts))
    assert point == pytest.approx(net)
    assert -1 <= interval["low"] <= point <= interval["high"] <= 1
    assert interval["high"] - interval["low"] > 0.05  # never a zero-width interval


def test_valence_interval_is_a_t_interval_and_narrows_with_more_tracks() -> None:
    def agg(values: list[float]) -> WindowAggregate:
        q = [round(v * 1e6) for v in values]
        return WindowAggregate(len(q), len(q), 0, (0,) * 7, sum(q), sum(x * x for x in q))

    values = [0.5, -0.5, 0.2, 0.1]
    mean, interval = valence_interval(agg(values))
    sd = math.sqrt(sum((v - 0.075) ** 2 for v in values) / 3)
    assert mean == pytest.approx(0.075)
    assert interval["high"] - mean == pytest.approx(3.182 * sd / 2, abs=1e-6)
    _, wide = valence_interval(agg(values * 1))
    _, narrow = valence_interval(agg(values * 10))
    assert narrow["high"] - narrow["low"] < wide["high"] - wide["low"]


@pytest.mark.parametrize(("df", "value"), [(1, 12.706), (10, 2.228), (30, 2.042), (60, 2.000), (1000, 1.962)])
def test_t_quantiles(df: int, value: float) -> None:
    assert t_975(df) == pytest.approx(value, abs=2e-3)


def test_window_ids_are_deterministic_per_key_end_and_length() -> None:
    a = window_event("s", "c", T0, 5, WindowAggregate(), 1)
    other_content = WindowAggregate(3, 3, 0, (0, 0, 0, 3, 0, 0, 0))
    assert a["event_id"] == window_event("s", "c", T0, 5, other_content, 1)["event_id"]
    others = {window_event("s", None, T0, 5, WindowAggregate(), 1)["event_id"],
              window_event("s", "c", T0, 15, WindowAggregate(), 1)["event_id"],
              window_event("s", "c", T0 + 60_000, 5, WindowAggregate(), 1)["event_id"]}
    assert a["event_id"] not in others and len(others) == 3
