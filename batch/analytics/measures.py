"""Sentiment measures over a set of visits, with 95% intervals, as the stream computes them per window.

Net score = positive share − negative share; its interval is the adjusted Wald interval for a
difference of two multinomial proportions (one pseudo-customer added to positive and to negative),
the same rule as ``stream.measures``, so a report and a live window agree on the same customers.
Anything built on fewer than ``min_tracks`` customers is *suppressed*: None, never a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_975 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


def _clip(value: float) -> float:
    return max(-1.0, min(1.0, value))


def _net_variance(positive: int, negative: int, tracks: int) -> tuple[float, float]:
    p, q = (positive + 1) / (tracks + 2), (negative + 1) / (tracks + 2)
    centre = p - q
    return centre, max(p + q - centre * centre, 0.0) / (tracks + 2)


def net_score(positive: int, negative: int, tracks: int, min_tracks: int) -> Estimate | None:
    if tracks < max(1, min_tracks):
        return None
    net = (positive - negative) / tracks
    centre, variance = _net_variance(positive, negative, tracks)
    half = Z_975 * math.sqrt(variance)
    return Estimate(net, _clip(min(centre - half, net)), _clip(max(centre + half, net)))


def net_score_change(now: tuple[int, int, int], before: tuple[int, int, int], min_tracks: int) -> Estimate | None:
    """Week-on-week change of the net score, (positive, negative, tracks) each, with a 95% interval."""
    if min(now[2], before[2]) < max(1, min_tracks):
        return None
    diff = (now[0] - now[1]) / now[2] - (before[0] - before[1]) / before[2]
    half = Z_975 * math.sqrt(_net_variance(*now)[1] + _net_variance(*before)[1])
    return Estimate(diff, diff - half, diff + half)


def mean_valence(total: float, total_sq: float, tracks: int, min_tracks: int) -> Estimate | None:
    if tracks < max(2, min_tracks):
        return None
    from scipy import stats  # here: the SQL views import this module for Z_975, and scipy takes a second

    mean = total / tracks
    variance = max((total_sq - tracks * mean * mean) / (tracks - 1), 0.0)
    half = float(stats.t.ppf(0.975, tracks - 1)) * math.sqrt(variance / tracks)
    return Estimate(mean, _clip(mean - half), _clip(mean + half))
