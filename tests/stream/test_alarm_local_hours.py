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
from tests.stream.alarm_reasons import since
from tests.stream.helpers import T0
from tests.stream.test_alarm_behaviour import Mood, raised, simulate

SITE = "cafe"
BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 10, 5, tzinfo=BERLIN)  # a Monday, three weeks before the last Sunday of October
CHANGE = dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC)  # 03:00 CEST -> 02:00 CET
END = dt.datetime(2026, 11, 2, tzinfo=BERLIN)  # the Sunday after the change, to its end
SPRING_START = dt.datetime(2027, 3, 8, tzinfo=BERLIN)  # three weeks before the last Sunday of March
SPRING_CHANGE = dt.datetime(2027, 3, 28, 1, tzinfo=dt.UTC)  # 02:00 CET -> 03:00 CEST
SPRING_END = dt.datetime(2027, 4, 5, tzinfo=BERLIN)
BUSY = 4.0  # customers a minute
ORDINARY, SOUR, BAD = 0.2, -0.3, -0.85


def _first(start: dt.datetime) -> int:
    """``simulate``'s ``first``: minutes from T0 to ``start``."""
    return (int(start.timestamp() * 1000) - T0) // MINUTE_MS


def _local(minute: int, first: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp((T0 + (first + minute) * MINUTE_MS) / 1000, zone)


def berlin_cafe(bad: tuple[dt.datetime, dt.datetime] | None = None, start: dt.datetime = START) -> Mood:
    """Open 09:00-22:00 Berlin time; a sour lunch (12:00-14:00) every day and sour Saturday evenings
    (18:00-21:00); ``bad``: a real bad spell (instants)."""
    first = _first(start)

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


def _ticks(mood: Mood, seed: int, start: dt.datetime = START, end: dt.datetime = END) -> list[Tick]:
    minutes = int((end - start).total_seconds()) // 60
    return simulate(mood, minutes, BUSY, seed, SITE, _first(start))


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


TOKYO = ZoneInfo("Asia/Tokyo")
TOKYO_START = dt.datetime(2026, 11, 2, tzinfo=TOKYO)  # a Monday; local midnight is 15:00 UTC the day before


def tokyo_cafe(bad: tuple[dt.datetime, dt.datetime]) -> Mood:
    """Open 07:00-22:00 Tokyo time (22:00-13:00 UTC: every local day spans two UTC days)."""
    first = _first(TOKYO_START)

    def mood(minute: int) -> float | None:
        local = _local(minute, first, TOKYO)
        if not 7 <= local.hour < 22:
            return None
        return BAD if bad[0] <= local < bad[1] else ORDINARY
    return mood


def test_a_tokyo_site_learns_and_counts_its_own_days_and_says_its_clock() -> None:
    """Nine days at a Tokyo site, a bad hour at 07:30-08:30 on the ninth morning (before 00:00 UTC; a
    Tuesday, a weekday the site was seen on before): each baseline day is a Tokyo date, each day's
    customers are the Tokyo day's, and the alarm says when in Tokyo time."""
    spell = (dt.datetime(2026, 11, 10, 7, 30, tzinfo=TOKYO), dt.datetime(2026, 11, 10, 8, 30, tzinfo=TOKYO))
    ticks = simulate(tokyo_cafe(spell), 9 * 24 * 60, BUSY, 0, SITE, _first(TOKYO_START))
    engine = AlarmEngine(AlarmConfig(), {SITE: "Asia/Tokyo"})
    alarms = [a for a in engine.process(ticks) if a["camera_id"] is None and a["state"] == "ALARM"]
    state = engine.snapshot()

    epoch = dt.date(1970, 1, 1)
    first = _first(TOKYO_START)
    tokyo_days = {(_local(m, first, TOKYO).date() - epoch).days for m in range(0, 9 * 1440, 60)}
    for _, key, rows in state["day_baselines"]:
        assert {day for day, *_ in rows} <= tokyo_days
        if key == "d7":  # 07:00-08:00 Tokyo is 22:00-23:00 UTC the day before: the Tokyo date counts
            assert [day for day, *_ in rows] == sorted(tokyo_days)[-len(rows):]  # the latest kept days
    per_day: dict[int, int] = {}
    for tick in ticks:
        day = (dt.datetime.fromtimestamp((tick.end_ms - 1) / 1000, TOKYO).date() - epoch).days
        per_day[day] = per_day.get(day, 0) + sum(n for *_, n in tick.customers)
    kept = AlarmConfig().baseline_keep_days + 1  # the latest complete days and today
    assert state["traffic"] == [[SITE, [[day, n] for day, n in sorted(per_day.items()) if n][-kept:]]]

    drops = [a for a in alarms if a["rule"] == "sentiment_drop"]
    assert drops and all(spell[0] <= _local((a["event_time_ms"] - T0) // MINUTE_MS, 0, TOKYO) <= spell[1]
                         for a in drops)
    said = since(drops[0]["reason"], "JST")
    assert said is not None and abs(said - (7 * 60 + 30)) <= 5  # the spell's start, Tokyo time


def test_a_berlin_alarm_says_since_when_in_berlin_time() -> None:
    """The bad hour of the Wednesday after the change (16:00 CET) is said as CET in the drop's reason."""
    spell = (dt.datetime(2026, 10, 28, 16, tzinfo=BERLIN), dt.datetime(2026, 10, 28, 17, tzinfo=BERLIN))
    alarms = AlarmEngine(AlarmConfig(), {SITE: "Europe/Berlin"}).process(_ticks(berlin_cafe(spell), 0))
    reasons = [a["reason"] for a in alarms if a["rule"] == "sentiment_drop" and a["state"] == "ALARM"
               and a["event_time_ms"] >= spell[0].timestamp() * 1000]
    said = since(reasons[0], "CET") if reasons else None
    assert said is not None and abs(said - 16 * 60) <= 5


def test_a_site_whose_zone_changes_keeps_what_it_learnt_moved_to_the_new_hours(ordinary_weeks: list[Tick]) -> None:
    """Four weeks learnt in Berlin hours, restored with the site in New York (a site file's zone corrected):
    each kept day is in the New York hour and day a New York engine puts it in, with its counts; a key
    may lack only its oldest days (the Berlin hour had kept its own latest seven)."""
    berlin = AlarmEngine(AlarmConfig(), {SITE: "Europe/Berlin"})
    berlin.process(ordinary_weeks)
    moved = AlarmEngine.restore(berlin.snapshot(), zones={SITE: "America/New_York"}).snapshot()
    fresh = AlarmEngine(AlarmConfig(), {SITE: "America/New_York"})
    fresh.process(ordinary_weeks)
    learnt = {key: rows for _, key, rows in fresh.snapshot()["day_baselines"]}
    assert moved["zones"] == {SITE: "America/New_York"}
    assert {key for _, key, _ in moved["day_baselines"]} == set(learnt)
    for _, key, rows in moved["day_baselines"]:
        assert rows and rows == learnt[key][len(learnt[key]) - len(rows):], key


@pytest.fixture(scope="module", params=[0, 1])
def spring_weeks(request: pytest.FixtureRequest) -> list[Tick]:
    return _ticks(berlin_cafe(start=SPRING_START), request.param, SPRING_START, SPRING_END)


def test_utc_hours_raise_false_alarms_in_the_days_after_the_spring_change(spring_weeks: list[Tick]) -> None:
    """In spring the lunch moves the other way, into the UTC hour that learnt the late morning: keyed by
    the UTC hour, the days after the change raise alarms at 12:00 (and on Saturday at 18:00) Berlin time."""
    after = [t for t in _site_raises(spring_weeks, "UTC") if t >= SPRING_CHANGE]
    assert sum(t.hour == 12 or (t.weekday() == 5 and t.hour == 18) for t in after) >= 3


def test_local_hours_raise_no_false_alarm_after_the_spring_change(spring_weeks: list[Tick]) -> None:
    """Keyed by the Berlin hour, the spring weeks: the skipped hour (a closed night's) changes nothing."""
    assert [t for t in _site_raises(spring_weeks, "Europe/Berlin") if t >= SPRING_CHANGE] == []
