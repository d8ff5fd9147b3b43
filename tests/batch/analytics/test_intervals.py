"""Split-conformal calibration on its own: quantiles of earlier errors cover later ones."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.analytics.intervals import calibrate, conformal_quantile


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
