"""The hourly drift run judges each site's local day within about an hour of its end, each day once:
sites in Los Angeles, Berlin, Tokyo and Auckland, runs at every UTC hour, missed runs, DST days, and the
record of judged days in a file and on S3 (moto server), two runs writing it at once."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.drift import day_start_ms
from batch.drift_due import CATCH_UP_DAYS, SETTLE_MS, JudgedDays, due_days, last_ended_day

HOUR_MS = 3_600_000
RUN_MINUTE = 40  # the stack's drift schedule (tests/deploy/stack checks the two agree)
ZONES = {"la": "America/Los_Angeles", "berlin": "Europe/Berlin", "tokyo": "Asia/Tokyo", "auckland": "Pacific/Auckland"}
ALL_ZONES = sorted(zoneinfo.available_timezones() - {"localtime"})


def utc_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def day_end_ms(site: str, day: dt.date) -> int:
    return day_start_ms(day + dt.timedelta(days=1), ZONES[site])


def run_hourly(runs: list[int], judged: dict[str, dt.date],
               zones: dict[str, str] = ZONES) -> dict[tuple[str, dt.date], list[int]]:
    """Each run judges what is due and records it, as the drift task does: (site, day) -> the runs that judged it."""
    when: dict[tuple[str, dt.date], list[int]] = {}
    for now in runs:
        due = due_days(zones, judged, now)
        for period in due.periods:
            day = period.first
            while day <= period.last:
                when.setdefault((period.site_id, day), []).append(now)
                day += dt.timedelta(days=1)
            judged[period.site_id] = period.last
    return when


def hourly(first: str, hours: int, skip: frozenset[int] = frozenset()) -> list[int]:
    start = utc_ms(first) + RUN_MINUTE * 60_000
    return [start + h * HOUR_MS for h in range(hours) if h not in skip]


@pytest.mark.parametrize("week", ["2026-10-21", "2026-10-28", "2026-03-04", "2026-03-25", "2026-09-23", "2026-04-01"])
def test_every_sites_day_is_judged_once_within_about_an_hour_of_its_end(week: str) -> None:
    """A week of runs at every UTC hour, each site known from the week's first day; the weeks hold the
    DST days of Berlin (03-29, 10-25), Los Angeles (03-08, 11-01) and Auckland (04-05, 09-27)."""
    start = dt.date.fromisoformat(week)
    judged = {site: start for site in ZONES}
    when = run_hourly(hourly(f"{week}T00:00", 8 * 24), judged)
    for site in ZONES:
        days = [start + dt.timedelta(days=d) for d in range(1, 7)]
        for day in days:
            (judged_at,) = when[(site, day)]  # once
            assert SETTLE_MS <= judged_at - day_end_ms(site, day) < SETTLE_MS + HOUR_MS, (site, day)
    assert all(len(runs) == 1 for runs in when.values())


def test_los_angeles_is_judged_the_morning_after_not_a_day_late() -> None:
    """At 05:30 UTC (the old daily run) Los Angeles' yesterday had not ended; now it is judged at 07:40 UTC
    (summer) or 08:40 UTC (winter), and Auckland's at 11:40 or 12:40 UTC the day before."""
    judged = {"la": dt.date(2026, 10, 5), "auckland": dt.date(2026, 10, 6)}
    when = run_hourly(hourly("2026-10-06T00:00", 48), judged, {s: ZONES[s] for s in judged})
    assert when[("la", dt.date(2026, 10, 6))] == [utc_ms("2026-10-07T07:40")]
    assert when[("auckland", dt.date(2026, 10, 7))] == [utc_ms("2026-10-07T11:40")]
    judged = {"la": dt.date(2026, 11, 30)}
    when = run_hourly(hourly("2026-12-01T00:00", 48), judged, {"la": ZONES["la"]})
    assert when[("la", dt.date(2026, 12, 1))] == [utc_ms("2026-12-02T08:40")]


def test_a_missed_run_is_made_up_by_the_next_one() -> None:
    """The runs of 07:40 and 08:40 UTC fail (or never start): Los Angeles' 6 October is judged at 09:40, once;
    the other sites are not judged again."""
    judged = {site: dt.date(2026, 10, 5) for site in ZONES}
    runs = hourly("2026-10-06T00:00", 72, skip=frozenset({24 + 7, 24 + 8}))
    when = run_hourly(runs, judged)
    assert when[("la", dt.date(2026, 10, 6))] == [utc_ms("2026-10-07T09:40")]
    assert all(len(runs) == 1 for runs in when.values())
    assert {day for site, day in when if site == "la"} == {dt.date(2026, 10, 6), dt.date(2026, 10, 7)}


def test_a_new_site_starts_with_its_last_ended_day_and_old_gaps_are_named() -> None:
    now = utc_ms("2026-10-20T12:40")
    due = due_days({"tokyo": ZONES["tokyo"], "la": ZONES["la"]}, {"la": dt.date(2026, 9, 1)}, now)
    periods = {p.site_id: p for p in due.periods}
    assert (periods["tokyo"].first, periods["tokyo"].last) == (dt.date(2026, 10, 19),) * 2  # 21:40 on the 20th
    last_la = dt.date(2026, 10, 19)  # 05:40 on the 20th in Los Angeles
    assert (periods["la"].first, periods["la"].last) == (last_la - dt.timedelta(days=CATCH_UP_DAYS - 1), last_la)
    (note,) = due.too_old
    assert note.startswith("site la: 2026-09-02 to 2026-10-06 not judged")


def test_nothing_is_due_where_the_last_ended_day_is_judged() -> None:
    now = utc_ms("2026-10-20T12:40")
    judged = {site: last_ended_day(zone, now) for site, zone in ZONES.items()}
    assert due_days(ZONES, judged, now).periods == []


@settings(max_examples=150, deadline=None)
@given(zone=st.sampled_from(ALL_ZONES), start=st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 1, 1)),
       gaps=st.lists(st.integers(1, 60 * 24 * 3), min_size=1, max_size=40))
def test_runs_at_any_times_judge_each_day_once_and_in_order(zone: str, start: dt.datetime, gaps: list[int]) -> None:
    """Whatever the zone and however irregular the runs (late, missed, several in an hour), the days
    judged are consecutive from the first run's last ended day, each once, and every day ended (and
    settled) by the last run is judged."""
    now = int(start.replace(tzinfo=dt.UTC).timestamp() * 1000)
    runs = [now]
    for minutes in gaps:
        runs.append(runs[-1] + minutes * 60_000)
    judged: dict[str, dt.date] = {}
    when = run_hourly(runs, judged, {"s": zone})
    days = sorted(day for _, day in when)
    assert all(len(r) == 1 for r in when.values())
    first = last_ended_day(zone, runs[0])
    assert days == [first + dt.timedelta(days=d) for d in range((last_ended_day(zone, runs[-1]) - first).days + 1)]
    for (_, day), (judged_at,) in when.items():
        assert day_end_ms_in(zone, day) + SETTLE_MS <= judged_at


def day_end_ms_in(zone: str, day: dt.date) -> int:
    return day_start_ms(day + dt.timedelta(days=1), zone)


def test_the_record_in_a_file_only_moves_forward_and_a_bad_one_is_named(tmp_path) -> None:
    path = tmp_path / "state" / "judged.json"
    record = JudgedDays(str(path))
    assert record.read() == {}
    record.record({"la": dt.date(2026, 10, 6), "tokyo": dt.date(2026, 10, 7)})
    record.record({"la": dt.date(2026, 10, 5), "berlin": dt.date(2026, 10, 7)})  # a slow run's older day
    assert JudgedDays(str(path)).read() == {"la": dt.date(2026, 10, 6), "tokyo": dt.date(2026, 10, 7),
                                            "berlin": dt.date(2026, 10, 7)}
    path.write_text('{"la": "yesterday"}')
    with pytest.raises(ValueError, match=rf"{path}: not a record of judged drift days"):
        record.read()
    with pytest.raises(ValueError, match="s3://bucket/key"):
        JudgedDays("s3://bucket-only/")


def test_two_runs_recording_on_s3_at_once_keep_both(aws_env: str) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="eu-west-1")
    s3.create_bucket(Bucket="drift-due", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    location = "s3://drift-due/drift/judged-days.json"
    other = JudgedDays(location, s3)

    class Interleaved:
        """Another run records Tokyo between this run's read and its write, once."""

        def __init__(self) -> None:
            self.raced = False

        def get_object(self, **kwargs):
            found = s3.get_object(**kwargs)
            if not self.raced:
                self.raced = True
                other.record({"tokyo": dt.date(2026, 10, 7)})
            return found

        def put_object(self, **kwargs):
            return s3.put_object(**kwargs)

    JudgedDays(location, s3).record({"la": dt.date(2026, 10, 5)})
    JudgedDays(location, Interleaved()).record({"la": dt.date(2026, 10, 6)})
    assert JudgedDays(location, s3).read() == {"la": dt.date(2026, 10, 6), "tokyo": dt.date(2026, 10, 7)}
