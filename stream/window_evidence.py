"""What one sentiment window says to the alarm rules: its customers' votes, the sampling error of its net
score, and the site's local hour (of the day, of the week) and day it belongs to.

The baselines learn a site's local hours (ADR alarms-0006): its lunch is at 12:00 on its clocks in summer
and in winter, while the UTC hour of it moves twice a year in a zone with daylight saving. A "local
instant" is an instant plus the zone's offset then: epoch milliseconds whose UTC reading is the site's
wall clock, so the hour and day arithmetic below is the same for every zone. The repeated autumn hour
joins the same local hour; the skipped spring hour has no samples.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Mapping
from typing import cast

from schemas.expressions import NEGATIVE, POSITIVE
from schemas.time_zones import time_zone_problem, utc_offsets
from schemas.types import SentimentWindow

HOUR_MS = 3_600_000
UTC = "UTC"
# the classes in the order their shares are summed (sorted: the sums are the same on every run)
_VOTING = tuple(sorted(POSITIVE | NEGATIVE))
_POSITIVE = tuple(sorted(POSITIVE))
_NEGATIVE = tuple(sorted(NEGATIVE))


def hour_of_week(time_ms: int) -> int:
    """0 = Monday 00:00-01:00 ... 167 = Sunday 23:00 of the clock ``time_ms`` reads in (UTC for an instant,
    the site's for a local instant; 1970-01-01 was a Thursday)."""
    hours = time_ms // HOUR_MS
    return ((hours // 24 + 3) % 7) * 24 + hours % 24


class SiteClock:
    """A site's wall clock: local instants (module docstring) and the times alarm reasons say.

    The offset is looked up once per UTC hour of the zone and remembered (the host asks for it with
    every sample and every judged window); an hour in which the zone's offset changes (a zone whose
    change is not on a UTC hour) is looked up at each instant instead."""

    def __init__(self, zone: str = UTC) -> None:
        if (problem := time_zone_problem(zone)) is not None:
            raise ValueError(f"timezone: {problem}")
        self.zone = zone
        self._offsets = utc_offsets(zone)
        self._by_hour: dict[int, int | None] = {}  # UTC hour -> offset (ms) all that hour; None: it changes within

    def offset_ms(self, time_ms: int) -> int:
        hour = time_ms // HOUR_MS
        offset = self._by_hour.get(hour, -1)
        if offset == -1:
            start = self._offsets.at(hour * 3600)
            offset = self._by_hour[hour] = start * 1000 if start == self._offsets.at(hour * 3600 + 3599) else None
            if len(self._by_hour) > 4096:  # a replay over years: keep the latest months' hours only
                for old in sorted(self._by_hour)[:2048]:
                    del self._by_hour[old]
        return self._offsets.at(time_ms // 1000) * 1000 if offset is None else offset

    def local_ms(self, time_ms: int) -> int:
        """The local instant of ``time_ms``: its reading on the site's clock, as epoch milliseconds."""
        return time_ms + self.offset_ms(time_ms)

    def utc_ms(self, local_ms: int) -> int:
        """An instant whose local instant is ``local_ms``, for re-keying stored baselines: of a reading the
        clocks show twice one of its two instants; of one they skip, an instant next to the change."""
        guess = local_ms - self.offset_ms(local_ms)
        return local_ms - self.offset_ms(guess)

    def clock(self, time_ms: int) -> str:
        """"14:46 CET": the site's time of day with the zone's abbreviation, for alarm reasons."""
        moment = dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).astimezone(zoneinfo.ZoneInfo(self.zone))
        return f"{moment:%H:%M} {moment.tzname()}"


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


def baseline_keys(local_end_ms: int) -> tuple[str, str]:
    """The keys of the hour-of-the-week and hour-of-the-day baselines (`stream.alarms`) of a sample or window
    ending at the local instant ``local_end_ms`` (its last millisecond's hour: 13:45-14:00 is 13:00's)."""
    last = local_end_ms - 1
    return f"w{hour_of_week(last)}", f"d{last // HOUR_MS % 24}"
