"""The site's clock the alarm baselines learn by (`stream.window_evidence.SiteClock`), against zoneinfo."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.time_zones import utc_offsets
from stream.window_evidence import HOUR_MS, SiteClock, baseline_keys

# With daylight saving (north and south), without, half- and quarter-hour offsets, a 30-minute change
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "Asia/Kolkata",
         "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns", "UTC"]
CLOCKS = {zone: SiteClock(zone) for zone in ZONES}  # shared by the examples: their offset memory is tested too
FIRST_MS, LAST_MS = 0, 4_102_444_800_000  # 1970 .. 2100


@st.composite
def instants(draw: st.DrawFn) -> tuple[str, int]:
    """A zone and an instant: anywhere, or within a few hours of one of the zone's changes."""
    zone = draw(st.sampled_from(ZONES))
    starts = [s * 1000 for s in utc_offsets(zone).starts if FIRST_MS <= s * 1000 < LAST_MS]
    if starts and draw(st.booleans()):
        return zone, draw(st.sampled_from(starts)) + draw(st.integers(-3 * HOUR_MS, 3 * HOUR_MS))
    return zone, draw(st.integers(FIRST_MS, LAST_MS))


@settings(max_examples=400)
@given(instants())
def test_local_instant_hour_and_weekday_are_zoneinfos(case: tuple[str, int]) -> None:
    zone, time_ms = case
    moment = dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).astimezone(ZoneInfo(zone))
    offset_ms = round(moment.utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
    local = CLOCKS[zone].local_ms(time_ms)
    assert local == time_ms + offset_ms
    assert baseline_keys(local + 1) == (f"w{moment.weekday() * 24 + moment.hour}", f"d{moment.hour}")
    assert (local // 86_400_000) == (moment.date() - dt.date(1970, 1, 1)).days


@settings(max_examples=200)
@given(instants())
def test_utc_ms_inverts_local_ms_outside_the_repeated_hour(case: tuple[str, int]) -> None:
    zone, time_ms = case
    clock = CLOCKS[zone]
    local = clock.local_ms(time_ms)
    back = clock.utc_ms(local)
    assert clock.local_ms(back) == local  # the same reading; of a repeated hour possibly its other instant
    assert back == time_ms or abs(back - time_ms) <= 2 * HOUR_MS


def test_berlins_repeated_autumn_hour_is_one_local_hour_and_the_skipped_spring_hour_none() -> None:
    clock = SiteClock("Europe/Berlin")
    autumn = int(dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).timestamp() * 1000)  # 02:30 CEST
    assert baseline_keys(clock.local_ms(autumn) + 1) == baseline_keys(clock.local_ms(autumn + HOUR_MS) + 1) \
        == ("w146", "d2")  # then 02:30 CET: Sunday 02:00 both times
    spring = int(dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)  # 01:00 CET, then 03:00 CEST
    hours = {baseline_keys(clock.local_ms(spring + m * 60_000) + 1)[1] for m in range(0, 180)}
    assert hours == {"d1", "d3", "d4"}


def test_the_clock_says_the_sites_time_and_zone() -> None:
    winter = int(dt.datetime(2026, 12, 7, 13, 46, tzinfo=dt.UTC).timestamp() * 1000)
    summer = int(dt.datetime(2026, 7, 7, 12, 46, tzinfo=dt.UTC).timestamp() * 1000)
    assert SiteClock("Europe/Berlin").clock(winter) == "14:46 CET"
    assert SiteClock("Europe/Berlin").clock(summer) == "14:46 CEST"
    assert SiteClock("America/New_York").clock(winter) == "08:46 EST"
    assert SiteClock().clock(winter) == "13:46 UTC"
