"""Split-conformal calibration of the forecast's intervals (why: docs/adr/analytics-0001-forecast.md).

An interval's half-width is the empirical quantile of the standardised errors
|z| = |actual - predicted| / predicted sd seen out of sample in *earlier* weeks, instead of a
Student-t quantile that trusts the model's own variance (which misses what the additive terms
cannot express and tails heavier than normal: a bad evening, a silent camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVELS = (80, 95)


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
