"""Customers who are not independent: the baseline measures their dispersion and the CUSUM discounts it.

Parties that share one mood vote several times on one draw; `stream.baseline.dispersion` measures
how much more a site's days vary than independent customers would make them, and the sequential
rule divides its evidence by that (`stream.sequential`).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream import baseline
from stream.alarms import AlarmEngine
from stream.baseline import DAY_MS, DayBaseline, dispersion
from stream.engine import Tick
from tests.stream.test_alarm_behaviour import raised, simulate
from tests.stream.test_alarm_sequential import DROP_ONLY, SEEN, WEEK, first_open_minute, open_days

HOURS, DAYS = 24, 7


def hours_of_days(seed: int, party: int, parties_a_day: int, positive: float, negative: float) -> list[DayBaseline]:
    """A site's 24 hour-of-day baselines over 7 days; each day's parties draw one vote each, and all
    ``party`` customers of a party cast it."""
    rng = np.random.default_rng(seed)
    hours = []
    for _ in range(HOURS):
        hour = DayBaseline()
        for day in range(DAYS):
            votes = rng.multinomial(parties_a_day, [positive, negative, 1 - positive - negative])
            hour.add((day + 1) * DAY_MS, int(votes[0]) * party, int(votes[1]) * party,
                     parties_a_day * party, DAYS)
        hours.append(hour)
    return hours


def site_dispersion(hours: list[DayBaseline]) -> float:
    return dispersion(hour.pearson(3) for hour in hours)


shares = st.tuples(st.floats(0.15, 0.6), st.floats(0.1, 0.35))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), per_day=st.sampled_from([8, 30, 200]), mood=shares)
def test_independent_customers_have_a_dispersion_of_about_one(seed: int, per_day: int,
                                                              mood: tuple[float, float]) -> None:
    """Independent customers: 1 (a little above it on a rare unlucky draw of 144 degrees of freedom)."""
    assert 1.0 <= site_dispersion(hours_of_days(seed, 1, per_day, *mood)) < 1.1


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), party=st.sampled_from([3, 4, 6]), per_day=st.sampled_from([8, 30, 200]),
       mood=shares)
def test_parties_sharing_one_vote_have_a_dispersion_of_about_their_size(seed: int, party: int, per_day: int,
                                                                        mood: tuple[float, float]) -> None:
    """Parties of k that cast one vote k times: well above 1 (capped at ``MAX_DISPERSION``)."""
    found = site_dispersion(hours_of_days(seed, party, per_day, *mood))
    assert min(party, baseline.MAX_DISPERSION) * 0.6 <= found <= baseline.MAX_DISPERSION


def test_too_few_days_say_nothing_of_the_dispersion() -> None:
    """One hour's days alone are too few to tell clustering from chance: 1 is assumed."""
    assert site_dispersion(hours_of_days(3, 6, 30, 0.4, 0.2)[:2]) == 1.0


def in_parties(ticks: list[Tick], party: int) -> list[Tick]:
    """Every customer of ``ticks`` a party of ``party`` sharing their vote (windows and customers alike)."""
    return [Tick(t.end_ms, [{**w, "tracks": w["tracks"] * party} for w in t.windows], t.heartbeats, t.flush,
                 [(s, c, p * party, q * party, n * party) for s, c, p, q, n in t.customers]) for t in ticks]


def site_drops(ticks: list[Tick]) -> list[tuple[int, int | None]]:
    return raised([a for a in AlarmEngine(DROP_ONLY).process(ticks) if a["camera_id"] is None], "sentiment_drop")


def test_an_ordinary_history_of_parties_raises_fewer_drops_than_independent_evidence_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ordinary weeks of parties of four (a party about every two minutes): the CUSUM that takes
    each customer as independent raises false drops; the one that divides by the dispersion raises
    fewer, and every raise clears."""
    histories = [in_parties(simulate(open_days(0.2), 2 * WEEK, 0.5, seed), 4) for seed in range(3)]
    discounted = [site_drops(ticks) for ticks in histories]
    monkeypatch.setattr(baseline, "MAX_DISPERSION", 1.0)  # the dispersion pinned to 1: independent customers
    independent = [site_drops(ticks) for ticks in histories]
    assert sum(map(len, discounted)) < sum(map(len, independent))
    assert all(cleared is not None for spans in discounted for _, cleared in spans)


@pytest.mark.parametrize("seed", range(3))
def test_a_bad_hour_of_parties_is_still_raised(seed: int) -> None:
    """Parties of four (about 1.4 a minute), eight ordinary days at +0.2, then a bad hour at -0.4 from
    14:00: raised within an hour of 14:00 although each party counts as about one customer's evidence."""
    start = first_open_minute(SEEN, 14)
    ticks = in_parties(simulate(open_days(0.2, (start, start + 60, -0.4)), start + 180, 1.4, seed), 4)
    assert any(start < begun <= start + 60 for begun, _ in site_drops(ticks))
