"""The interval machinery on its own: conformal quantiles and hour-of-week effects shrunk to the additive model."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.analytics.intervals import WEEK_HOURS, calibrate, conformal_quantile, shrunk_effects


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.2, 5.0), tails=st.sampled_from([3, 30]),
       level=st.sampled_from([80, 95]))
def test_a_conformal_quantile_covers_new_errors_at_its_level_whatever_their_scale_and_tails(
        seed: int, scale: float, tails: int, level: int) -> None:
    rng = np.random.default_rng(seed)
    earlier, later = scale * rng.standard_t(tails, 400), scale * rng.standard_t(tails, 4000)
    q = conformal_quantile(earlier, level)
    assert q is not None
    share = float(np.mean(np.abs(later) <= q))
    p = level / 100
    # The coverage of a quantile learnt from 400 errors is Beta-distributed with sd ~ sqrt(p(1-p)/400);
    # 4 sds of that plus 4 of the 4000 new errors' binomial noise.
    assert abs(share - p) <= 4 * np.sqrt(p * (1 - p) / 400) + 4 * np.sqrt(p * (1 - p) / 4000)


def test_too_few_errors_give_no_quantile_rather_than_a_guess() -> None:
    assert conformal_quantile(np.ones(18), 95) is None and conformal_quantile(np.ones(19), 95) == 1.0
    assert conformal_quantile(np.array([np.nan] * 30), 80) is None
    calibration = calibrate({"net": np.arange(10.0), "visits": np.arange(100.0)})
    assert calibration.multiplier("net", 95) is None and calibration.multiplier("net", 80) is not None
    assert calibration.multiplier("visits", 80) <= calibration.multiplier("visits", 95)  # type: ignore[operator]


def _cells(rng: np.random.Generator, interaction_sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ten weeks of 84 open hours of the week; residuals = interaction of the hour + noise."""
    opened = np.array([d * 24 + h for d in range(7) for h in range(8, 20)])
    how = np.tile(opened, 10)
    truth = np.zeros(WEEK_HOURS)
    truth[opened] = rng.normal(0, interaction_sd, len(opened))
    return how, truth, truth[how] + rng.normal(0, 0.3, len(how))


def test_a_planted_hour_of_week_interaction_is_recovered_and_shrunk() -> None:
    rng = np.random.default_rng(5)
    how, truth, residuals = _cells(rng, 0.15)
    effects = shrunk_effects(how, residuals, np.ones(len(how)), fixed_terms=1)
    opened = np.unique(how)
    assert 0.5 * 0.15**2 <= effects.between <= 2 * 0.15**2
    # Expected correlation with the truth: sqrt(0.15² / (0.15² + 0.3² / 10)) = 0.85, over 84 hours.
    assert np.corrcoef(effects.effect[opened], truth[opened])[0, 1] > 0.7
    raw = np.bincount(how, weights=residuals, minlength=WEEK_HOURS)[opened] / 10
    assert np.all(np.abs(effects.effect[opened]) < np.abs(raw))  # shrunk towards 0, never beyond
    assert np.all(effects.variance[opened] < 0.3**2 / 10)  # less uncertain than a raw mean of 10 hours


def test_no_interaction_leaves_the_additive_model_alone() -> None:
    rng = np.random.default_rng(6)
    how, _, residuals = _cells(rng, 0.0)
    effects = shrunk_effects(how, residuals, np.ones(len(how)), fixed_terms=1)
    raw = np.bincount(how, weights=residuals, minlength=WEEK_HOURS)[np.unique(how)] / 10
    assert np.abs(effects.effect).max() < 0.5 * np.abs(raw).max()
