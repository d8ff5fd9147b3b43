"""The sequential rule's threshold keeps its promise: on the usual mood, at most the stated false alarms.

`stream.sequential.threshold` turns a stated rate (false alarms a month, per site) and the site's
customers a day into the CUSUM's h through Siegmund's approximation of the in-control run length.
Here customers are drawn from exactly the mood the CUSUM calls usual (no allowance: its worst case)
for many months, the CUSUM restarting after each raise as the rule does; the false alarms a month
counted must not exceed the stated rate.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from stream import sequential
from stream.baseline import Reference
from stream.sequential import Cusum

MONTHS = 12


def false_alarms(usual: Reference, sour_share: float, per_day: int, rate: float, seed: int) -> int:
    happy, unhappy = sequential.steps(usual, sour_share)
    h = sequential.threshold(per_day, rate, happy, unhappy, usual)
    rng = random.Random(seed)  # nosec B311: reproducible test data
    state, alarms = Cusum(), 0
    for customer in range(per_day * sequential.MONTH_DAYS * MONTHS):
        draw = rng.random()
        positive, negative = int(draw < usual.positive), int(usual.positive <= draw < usual.positive + usual.negative)
        sequential.update(state, customer * 60_000, positive, negative, 1, happy, unhappy, raised=False)
        if state.score >= h:
            alarms += 1
            state = Cusum()
    return alarms


@settings(max_examples=8, deadline=None, derandomize=True)
@given(positive=st.floats(0.15, 0.6), negative=st.floats(0.1, 0.45), sour_share=st.sampled_from([0.3, 0.5, 0.8]),
       per_day=st.sampled_from([60, 200, 400]), rate=st.sampled_from([0.5, 1.0, 4.0]), seed=st.integers(0, 1000))
def test_on_the_usual_mood_false_alarms_stay_within_the_stated_rate(positive: float, negative: float,
                                                                     sour_share: float, per_day: int, rate: float,
                                                                     seed: int) -> None:
    """Twelve months of customers at the usual mood: false alarms <= rate x 12 months, plus the slack
    of a Poisson count (Siegmund's approximation errs on the safe side, so the mean is about half of
    that; 2 sigma on the stated count keeps the test from failing on a lucky draw that is within it)."""
    usual = Reference(positive, min(negative, 0.95 - positive), 0.0, 7)
    allowed = rate * MONTHS
    assert false_alarms(usual, sour_share, per_day, rate, seed) <= allowed + 2 * allowed ** 0.5


def test_the_stated_rate_is_what_moves_the_count() -> None:
    """The same customers at ten times the stated rate raise several times more often: the threshold
    is set by the rate, and the rate is not met by a CUSUM that never raises."""
    usual = Reference(0.4, 0.25, 0.0, 7)
    strict = sum(false_alarms(usual, 0.5, 200, 1.0, seed) for seed in range(3))
    loose = sum(false_alarms(usual, 0.5, 200, 10.0, seed) for seed in range(3))
    assert strict <= 3 * MONTHS and loose > 3 * strict
