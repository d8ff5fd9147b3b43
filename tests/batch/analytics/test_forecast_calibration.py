"""Out-of-sample coverage of the forecast's intervals on hourly data drawn from a known model.

Each simulated site is open 08-20 every day for 10 weeks. Visits are Poisson around a weekday x
hour profile; the net score of an hour is the vote of its customers around a mood that has what
the additive model cannot express: a crowding interaction (busier hours of busier days are
moodier), whole days off (a promotion, the weather: all hours of a day move together), and, in the
heteroscedastic case, weekends three times as erratic as weekdays. The model's own variance is
wrong there; the calibrated intervals must still cover what they claim, measured on the scored
weeks that were calibrated only on the weeks before them.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from batch.analytics.forecast import DAY_MS, HOUR_MS, Backtest, ForecastConfig, forecast_site

START_MS = 1_789_344_000_000  # 2026-09-14 00:00 UTC, a Monday
DAY_FACTOR = np.array([0.7, 0.7, 0.8, 0.9, 1.1, 1.6, 1.4])
OPEN = range(8, 20)


def simulate(seed: int, days: int, heteroscedastic: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(days):
        weekday = day % 7
        day_shift = rng.normal(0, 0.06) + (0.12 if rng.random() < 0.2 else 0.0)
        hour_sd = (0.15 if weekday >= 5 else 0.05) if heteroscedastic else 0.05
        for hour in OPEN:
            crowd = 18 * DAY_FACTOR[weekday] * (1 + 1.5 * np.exp(-0.5 * ((hour - 12.5) / 1.5) ** 2))
            visits = int(rng.poisson(crowd))
            tracks = int(rng.binomial(visits, 0.9))
            mood = float(np.clip(0.3 - 0.005 * crowd + 0.05 * (weekday >= 5) + day_shift + rng.normal(0, hour_sd)
                                 - (0.4 if heteroscedastic and rng.random() < 0.03 else 0.0),
                                 -0.6, 0.6))
            positive, negative, _ = rng.multinomial(tracks, [(0.65 + mood) / 2, (0.65 - mood) / 2, 0.35])
            rows.append((START_MS + day * DAY_MS + hour * HOUR_MS, visits, tracks, int(positive), int(negative)))
    return pd.DataFrame(rows, columns=["hour_ms", "visits", "tracks", "positive", "negative"])


SITES = 6


@cache
def _backtests(heteroscedastic: bool) -> tuple[Backtest, ...]:
    days = 70
    return tuple(forecast_site(f"sim-{seed}", simulate(seed, days, heteroscedastic), START_MS + days * DAY_MS).backtest
                 for seed in range(SITES))


def _pooled(backtests: tuple[Backtest, ...], field: str, hours: str) -> tuple[float, int]:
    n = sum(getattr(b, hours) for b in backtests)
    return sum(getattr(b, field) * getattr(b, hours) for b in backtests) / n, n


def test_calibrated_intervals_cover_their_level_out_of_sample() -> None:
    for heteroscedastic in (False, True):
        backtests = _backtests(heteroscedastic)
        assert all(b.folds == 3 and b.calibration_hours > 300 for b in backtests)
        for field, hours, level in (("coverage80", "hours", 0.8), ("coverage95", "hours", 0.95),
                                    ("visits_coverage80", "visits_hours", 0.8),
                                    ("visits_coverage95", "visits_hours", 0.95)):
            share, n = _pooled(backtests, field, hours)
            assert n > 1200
            # Binomial sd over n hours, times 1.5: hours of one day share its shift, and the
            # quantile is itself learnt from a few hundred errors (measured over 12 simulated
            # sites: per-site sd 0.013-0.03 against 0.014-0.025 binomial). 2.5 such sds with
            # n ~ 1500: ±0.021 at 95% (92.9% or less fails), ±0.039 at 80%.
            tolerance = 2.5 * 1.5 * np.sqrt(level * (1 - level) / n)
            assert abs(share - level) <= tolerance, (heteroscedastic, field, share, tolerance)


def test_too_little_history_says_so_and_three_weeks_are_calibrated_on_one() -> None:
    short = simulate(3, 20, heteroscedastic=True)
    result = forecast_site("short", short, START_MS + 20 * DAY_MS, ForecastConfig(min_history_days=21))
    assert result.status.startswith("too little history") and result.forecast.empty
    # Three weeks: one backtest week (two weeks of training before it). Its own coverage can only be
    # that of the model's t-intervals (no earlier week); the forecast is calibrated on its errors.
    just = forecast_site("just", simulate(3, 21, heteroscedastic=True), START_MS + 21 * DAY_MS)
    assert just.status == "ok" and just.backtest.folds == 1
    assert 19 <= just.backtest.calibration_hours <= 7 * len(OPEN)
    assert 0 <= just.backtest.coverage95 <= 1
