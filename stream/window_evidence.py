"""What one sentiment window says to the alarm rules: its customers' votes, the sampling error of its net
score, and the hour of the week it belongs to."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

from schemas.expressions import NEGATIVE, POSITIVE
from schemas.types import SentimentWindow

HOUR_MS = 3_600_000
# the classes in the order their shares are summed (sorted: the sums are the same on every run)
_VOTING = tuple(sorted(POSITIVE | NEGATIVE))
_POSITIVE = tuple(sorted(POSITIVE))
_NEGATIVE = tuple(sorted(NEGATIVE))


def hour_of_week(time_ms: int) -> int:
    """0 = Monday 00:00-01:00 UTC ... 167 = Sunday 23:00 (1970-01-01 was a Thursday)."""
    hours = time_ms // HOUR_MS
    return ((hours // 24 + 3) % 7) * 24 + hours % 24


def net_score_error(window: SentimentWindow, level: float) -> float:
    """Standard error of the window's net score if the room's true net score were ``level``.

    A customer votes +1 (happy), -1 (negative) or 0, so a net score from n customers has variance
    (s - level²)/n with s the share who vote at all; s is estimated with one pseudo-vote on each
    side (as the window's own interval does), so an all-sour window of five still has an error."""
    n = window["tracks"]
    shares = cast(Mapping[str, float], window["shares"] or {})
    voters = round(n * sum(shares.get(name, 0.0) for name in _VOTING))
    s = (voters + 2) / (n + 2)
    return math.sqrt(max(s - level * level, 1.0 / (n + 2)) / n)


def window_votes(window: SentimentWindow) -> tuple[int, int, int]:
    """(positive, negative, customers) of a window with data."""
    n = window["tracks"]
    shares = cast(Mapping[str, float], window["shares"] or {})
    positive = round(n * sum(shares.get(name, 0.0) for name in _POSITIVE))
    return positive, round(n * sum(shares.get(name, 0.0) for name in _NEGATIVE)), n
