"""A drift period is each site's own whole local days (`LocalDays`), DST days and all; the report's
week in its zone is the same dates at every site."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from batch.drift import LocalDays, day_start_ms, judge, local_day_rows
from tests.batch.drift_events import BASELINE, day_of_faces
from tests.batch.test_drift import lake_with
from tests.schemas.events import EVENT_TIME_MS, face_expression

ZONES = sorted(zoneinfo.available_timezones() - {"localtime"})
HOUR_MS = 3_600_000


def local_date(ms: int, zone: str) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(zone)).date()


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), first=st.dates(dt.date(1995, 1, 1), dt.date(2036, 12, 1)),
       length=st.integers(1, 40), where=st.floats(0, 1, exclude_max=True))
def test_a_periods_instants_hold_exactly_its_local_days(zone: str, first: dt.date, length: int, where: float) -> None:
    last = first + dt.timedelta(days=length - 1)
    # a date a zone skipped has no instant (Pacific/Apia went from 2011-12-29 to 12-31)
    assume(local_date(day_start_ms(first, zone), zone) == first)
    assume(local_date(day_start_ms(last + dt.timedelta(days=1), zone), zone) == last + dt.timedelta(days=1))
    start, end = LocalDays("s", zone, first, last).instants()
    assert local_date(start, zone) == first and local_date(start - 1, zone) < first
    assert local_date(end - 1, zone) == last and local_date(end, zone) > last
    inside = start + int((end - start) * where)
    assert first <= local_date(inside, zone) <= last


@pytest.mark.parametrize(("zone", "day", "hours"), [
    ("Europe/Berlin", "2026-03-29", 23), ("Europe/Berlin", "2026-10-25", 25), ("Europe/Berlin", "2026-10-26", 24),
    ("America/Los_Angeles", "2026-03-08", 23), ("America/Los_Angeles", "2026-11-01", 25),
    ("Asia/Tokyo", "2026-11-01", 24), ("Australia/Lord_Howe", "2026-04-05", 24.5),
    ("Australia/Lord_Howe", "2026-10-04", 23.5),  # a half-hour DST
])
def test_a_local_day_lasts_as_long_as_the_sites_clock_says(zone: str, day: str, hours: float) -> None:
    date = dt.date.fromisoformat(day)
    start, end = LocalDays("s", zone, date, date).instants()
    assert (end - start) / HOUR_MS == hours


def test_described_with_its_dates_count_and_zone() -> None:
    week = LocalDays("s", "America/Los_Angeles", dt.date(2026, 10, 29), dt.date(2026, 11, 4))
    assert week.describe() == "2026-10-29 to 2026-11-04 (7 local days, America/Los_Angeles)"
    assert week.before(14).describe() == "2026-10-15 to 2026-10-28 (14 local days, America/Los_Angeles)"
    assert LocalDays("s", "UTC", dt.date(2026, 1, 1), dt.date(2026, 1, 1)).describe() == \
        "2026-01-01 (1 local day, UTC)"


def test_a_reports_week_in_its_zone_is_the_same_dates_at_every_site_in_its_own() -> None:
    """Faces at 14:13 UTC each day: in Tokyo the evening of that date, at Pago Pago (UTC-11) 03:13 of
    the same date; a report week of Kiritimati (UTC+14) dates judges those same dates at both."""
    rng = np.random.default_rng(11)
    events = [{**e, "site_id": site} for site in ("tokyo", "pago") for day in range(5)
              for e in day_of_faces(rng, day, "door", BASELINE.shares, n=120)]
    con = lake_with(events)
    con.register("sites", pa.table({"site_id": ["tokyo", "pago"], "timezone": ["Asia/Tokyo", "Pacific/Pago_Pago"]}))
    dates = [(dt.date(2026, 9, 21) + dt.timedelta(days=d)).isoformat() for d in range(5)]
    assert dt.datetime.fromtimestamp(EVENT_TIME_MS / 1000, dt.UTC).date().isoformat() == dates[0]
    since, until = (day_start_ms(dates[1], "Pacific/Kiritimati"), day_start_ms(dates[4], "Pacific/Kiritimati"))
    days = judge(con, since, until, None, BASELINE, own_days=0, min_faces=1, timezone="Pacific/Kiritimati")
    assert {(d.site_id, d.day) for d in days} == {(s, day) for s in ("tokyo", "pago") for day in dates[1:4]}


@settings(max_examples=40, deadline=None)
@given(zone=st.sampled_from(ZONES), first=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 1)),
       length=st.integers(1, 3), minutes=st.lists(st.integers(-2 * 1440, 5 * 1440), min_size=1, max_size=30))
# 2026-12-07 07:30 UTC: 00:30 on the 7th in DuckDB 2.0.0's Vancouver (UTC-7 all year), 23:30 on the 6th
# in the pinned tzdata 2026.6's (UTC-8 in winter)
@example(zone="America/Vancouver", first=dt.date(2026, 12, 7), length=1, minutes=[450])
def test_a_period_holds_every_face_the_sql_puts_on_its_days(zone: str, first: dt.date, length: int,
                                                           minutes: list[int]) -> None:
    """Whatever the zone data of either side says (DuckDB's own can be older than the pinned tzdata),
    each day of a period counts exactly the faces the lake's SQL dates on it."""
    utc_midnight = int(dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC).timestamp() * 1000)
    events = [face_expression(site_id="s", track_id=f"t{i}", event_time_ms=utc_midnight + m * 60_000)
              for i, m in enumerate(minutes)]
    con = lake_with(events)
    con.register("sites", pa.table({"site_id": ["s"], "timezone": [zone]}))
    period = LocalDays("s", zone, first, first + dt.timedelta(days=length - 1))
    counted: dict[str, int] = {}
    for row in local_day_rows(con, [period]):
        counted[row[2]] = counted.get(row[2], 0) + int(row[5])
    expected: dict[str, int] = {}
    for (day,) in con.execute("SELECT CAST(CAST(event_time_ms AT TIME ZONE ? AS DATE) AS VARCHAR) FROM face_expression",
                              [zone]).fetchall():
        if period.covers(day):
            expected[day] = expected.get(day, 0) + 1
    assert counted == expected
