"""The benchmark's oracle (`benchmarks.alarm_oracle`): the ceiling it reports must behave like one."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.alarm_incidents import confusion
from benchmarks.alarm_oracle import observed, oracle_delays, siegmund_threshold

HOUR_MS = 3_600_000
T0 = 1_789_000_000_000 // HOUR_MS * HOUR_MS


@dataclass(frozen=True)
class Spell:
    kind: str
    site: str
    start_ms: int
    end_ms: int
    peak: float
    camera: str | None = None

    def share(self, t: int) -> float:
        return self.peak if self.start_ms <= t < self.end_ms else 0.0


def visits(days: int, per_hour: int, sour: Spell | None, seed: int) -> list[dict[str, Any]]:
    """Usable track_ends, 10:00-18:00, 40% happy, 25% sad, 35% neutral; in ``sour`` its share of the happy sad."""
    rng = random.Random(seed)  # nosec B311: reproducible test data
    out = []
    for day in range(days):
        for hour in range(10, 18):
            for i in range(per_hour):
                t = T0 + day * 24 * HOUR_MS + hour * HOUR_MS + i * HOUR_MS // per_hour
                draw = rng.random()
                top = "happy" if draw < 0.4 else "sad" if draw < 0.65 else "neutral"
                if top == "happy" and sour is not None and rng.random() < sour.share(t):
                    top = "sad"
                out.append({"schema": "face_expression", "kind": "track_end", "site_id": "cafe", "event_time_ms": t,
                            "top_class": top, "quality": {"usable": True}})
    return out


@given(st.lists(st.floats(0, 1), min_size=7, max_size=7).filter(lambda xs: sum(xs) > 0.1), st.floats(0, 1))
def test_observed_votes_are_a_distribution_and_sourer_means_fewer_positive(classes: list[float], sour: float) -> None:
    shares = [x / sum(classes) for x in classes]
    matrix = confusion()
    before, after = observed(shares, 0.0, matrix), observed(shares, sour, matrix)
    assert math.isclose(sum(after), 1.0, abs_tol=1e-6)
    assert after[0] <= before[0] + 1e-9 and after[1] >= before[1] - 1e-9


def test_the_threshold_grows_with_the_run_length_asked_for() -> None:
    assert siegmund_threshold(1_000, -0.2) < siegmund_threshold(10_000, -0.2) < siegmund_threshold(100_000, -0.2)


def test_a_strong_sour_hour_is_raised_inside_it_and_a_history_without_one_never() -> None:
    """Two weeks at 60 customers an hour; on the tenth day, 90% of the happy turn sad for an hour. The same
    hour without the spell: the oracle looking for it raises nothing."""
    start = T0 + 9 * 24 * HOUR_MS + 14 * HOUR_MS
    spell = Spell("busy hour", "cafe", start, start + HOUR_MS, 0.9)
    clean = visits(14, 60, None, seed=3)
    dirty = visits(14, 60, spell, seed=3)
    [(_, delay, under, seen)] = oracle_delays(clean, dirty, [spell], None, 1.0, 15 * 60_000)
    assert delay is not None and under and 0 < delay <= 60 and seen > 0
    [(_, never, _, _)] = oracle_delays(clean, clean, [spell], None, 1.0, 15 * 60_000)  # looked for, not there
    assert never is None
