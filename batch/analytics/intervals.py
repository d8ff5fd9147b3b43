"""Two ways the forecast's intervals are kept honest (why: docs/adr/analytics-0001-forecast.md).

* Hour-of-week effects shrunk towards the additive profile: what the day + hour-of-day terms miss
  at one hour of the week (a Saturday peak more crowded, so moodier, than a Monday peak) is that
  hour's mean residual, shrunk by how much of it could be noise. A random effect, estimated by the
  method of moments: eight weeks learn the interaction, two weeks fall back on the additive model.
* Split-conformal calibration: an interval's half-width is the empirical quantile of the
  standardised errors |z| = |actual - predicted| / predicted sd of *earlier* out-of-sample weeks,
  instead of a Student-t quantile that trusts the model's own variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WEEK_HOURS = 168
LEVELS = (80, 95)


@dataclass(frozen=True)
class HourOfWeekEffects:
    effect: np.ndarray  # per hour of the week: the shrunk mean residual, 0 where unseen
    variance: np.ndarray  # what is still uncertain about it (added to a prediction's variance)
    between: float  # variance of the true effects across hours of the week (0: the additive model fits)


def shrunk_effects(how: np.ndarray, residuals: np.ndarray, weights: np.ndarray, fixed_terms: int) -> HourOfWeekEffects:
    """One-way random effects on a regression's residuals (variance of a row: scale / weight).

    Within an hour of the week the residuals scatter by noise alone (`within`); the hours' weighted
    mean residuals scatter by noise plus the interaction. With no interaction, the weighted sum of
    squares of those means has expectation within × (hours − fixed_terms): the additive terms have
    already absorbed `fixed_terms` directions of it. What is beyond is the interaction's variance
    (ANOVA method of moments), and each hour's mean is shrunk by how much of it could be noise."""
    weight_sum = np.bincount(how, weights=weights, minlength=WEEK_HOURS)
    seen = weight_sum > 0
    safe = np.where(seen, weight_sum, 1.0)
    mean = np.where(seen, np.bincount(how, weights=weights * residuals, minlength=WEEK_HOURS) / safe, 0.0)
    hours, rows = int(seen.sum()), len(residuals)
    if hours <= fixed_terms or rows <= hours:
        return HourOfWeekEffects(np.zeros(WEEK_HOURS), np.zeros(WEEK_HOURS), 0.0)
    within = float(np.sum(weights * (residuals - mean[how]) ** 2) / (rows - hours))
    between_ss = float(np.sum(weight_sum[seen] * mean[seen] ** 2))
    between = max(0.0, (between_ss / (hours - fixed_terms) - within) / float(np.mean(weight_sum[seen])))
    sampling = within / safe
    total = between + sampling
    shrink = np.where(seen & (total > 0), between / np.where(total > 0, total, 1.0), 0.0)
    variance = np.where(seen, shrink * sampling, between)
    return HourOfWeekEffects(shrink * mean, variance, between)


@dataclass(frozen=True)
class Calibration:
    """Half-width multipliers (in predicted sds) per measure and level, from earlier weeks' errors;
    a level is missing when too few errors were seen to say where its quantile lies."""

    multipliers: dict[tuple[str, int], float]
    errors: dict[str, int]  # standardised errors seen, per measure

    def multiplier(self, measure: str, level: int) -> float | None:
        return self.multipliers.get((measure, level))


NO_CALIBRATION = Calibration({}, {})


def conformal_quantile(z: np.ndarray, level: int) -> float | None:
    """The ceil((n+1) level)-th smallest |z|: a new exchangeable error falls below it with
    probability >= level. None when n is too small for that (n < 19 for 95%)."""
    z = np.abs(z[np.isfinite(z)])
    rank = math.ceil((len(z) + 1) * level / 100)
    if rank > len(z):
        return None
    return float(np.sort(z)[rank - 1])


def calibrate(errors: dict[str, np.ndarray]) -> Calibration:
    multipliers = {}
    for measure, z in errors.items():
        for level in LEVELS:
            q = conformal_quantile(z, level)
            if q is not None:
                multipliers[(measure, level)] = q
    return Calibration(multipliers, {m: int(np.isfinite(z).sum()) for m, z in errors.items()})
