"""The alarm baselines learn each site's local hours (ADR alarms-0006).

A Berlin site's lunch is at 12:00 local whatever the season: in summer that is 10:00 UTC, in winter
11:00 UTC. Baselines keyed by the UTC hour judge the hour after the autumn change against another local
hour for days (the hour of the day) and weeks (the hour of the week); keyed by the local hour they do
not notice the change.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from stream.alarms import AlarmConfig, AlarmEngine
from stream.engine import MINUTE_MS, Tick
from tests.stream.helpers import T0
from tests.stream.test_alarm_behaviour import Mood, raised, simulate

SITE = "cafe"
BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 10, 5, tzinfo=BERLIN)  # a Monday, three weeks before the last Sunday of October
CHANGE = dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC)  # 03:00 CEST -> 02:00 CET
END = dt.datetime(2026, 11, 2, tzinfo=BERLIN)  # the Sunday after the change, to its end
BUSY = 4.0  # customers a minute
ORDINARY, SOUR, BAD = 0.2, -0.3, -0.85


def _first(start: dt.datetime) -> int:
    """``simulate``'s ``first``: minutes from T0 to ``start``."""
    return (int(start.timestamp() * 1000) - T0) // MINUTE_MS


def _local(minute: int, first: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp((T0 + (first + minute) * MINUTE_MS) / 1000, zone)


def berlin_cafe(bad: tuple[dt.datetime, dt.datetime] | None = None) -> Mood:
    """Open 09:00-22:00 Berlin time; a sour lunch (12:00-14:00) every day and sour Saturday evenings
    (18:00-21:00); ``bad``: a real bad spell (instants)."""
    first = _first(START)

    def mood(minute: int) -> float | None:
        local = _local(minute, first, BERLIN)
        if not 9 <= local.hour < 22:
            return None
        if bad is not None and bad[0] <= local < bad[1]:
            return BAD
        if 12 <= local.hour < 14 or (local.weekday() == 5 and 18 <= local.hour < 21):
            return SOUR
        return ORDINARY
    return mood


def _ticks(mood: Mood, seed: int) -> list[Tick]:
    minutes = int((END - START).total_seconds()) // 60
    return simulate(mood, minutes, BUSY, seed, SITE, _first(START))


def _site_raises(ticks: list[Tick], zone: str) -> list[dt.datetime]:
    """When each site alarm (low_sentiment or sentiment_drop) was raised, in Berlin time."""
    alarms = [a for a in AlarmEngine(AlarmConfig(), {SITE: zone}).process(ticks) if a["camera_id"] is None]
    return sorted(_local(begun, 0, BERLIN) for rule in ("low_sentiment", "sentiment_drop")
                  for begun, _ in raised(alarms, rule))


@pytest.fixture(scope="module", params=[0, 1])
def ordinary_weeks(request: pytest.FixtureRequest) -> list[Tick]:
    return _ticks(berlin_cafe(), request.param)


def test_utc_hours_raise_false_alarms_in_the_days_after_the_autumn_change(ordinary_weeks: list[Tick]) -> None:
    """Keyed by the UTC hour, the lunch moves into the hour that learnt the quiet afternoon: the days after
    the change raise alarms at 13:00 (and on Saturday at 20:00) Berlin time, though nothing changed."""
    after = [t for t in _site_raises(ordinary_weeks, "UTC") if t >= CHANGE]
    assert sum(t.hour == 13 or (t.weekday() == 5 and t.hour == 20) for t in after) >= 3


def test_local_hours_raise_no_false_alarm_after_the_autumn_change(ordinary_weeks: list[Tick]) -> None:
    """Keyed by the Berlin hour, the same weeks: nothing is raised from the change to the week's end."""
    assert [t for t in _site_raises(ordinary_weeks, "Europe/Berlin") if t >= CHANGE] == []


@pytest.mark.parametrize("seed", [0, 1])
def test_a_real_bad_hour_after_the_change_is_still_raised(seed: int) -> None:
    """A bad hour on the Wednesday after the change, 16:00-17:00 Berlin time, is raised within it."""
    spell = (dt.datetime(2026, 10, 28, 16, tzinfo=BERLIN), dt.datetime(2026, 10, 28, 17, tzinfo=BERLIN))
    raises = _site_raises(_ticks(berlin_cafe(spell), seed), "Europe/Berlin")
    assert any(spell[0] <= t <= spell[1] for t in raises)
    assert [t for t in raises if t >= CHANGE and not spell[0] <= t <= spell[1] + dt.timedelta(hours=1)] == []
