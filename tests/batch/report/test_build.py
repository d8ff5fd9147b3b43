"""The weekly report: suppression below min_tracks, offline cameras as gaps, self-contained HTML, CSVs."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from batch.analytics.drivers import parse_business_events
from batch.analytics.source import register_events
from batch.analytics.synthetic import business_csv_lines
from batch.report.build import Report, ReportOptions, build_report, write_report
from tests.schemas import events as samples
from tests.support.history import history, lake

HOUR_MS = 3_600_000
START = samples.EVENT_TIME_MS // (24 * HOUR_MS) * (24 * HOUR_MS)  # a midnight
HAPPY = {"angry": 0.0, "disgust": 0.0, "fear": 0.0, "happy": 0.9, "sad": 0.0, "surprise": 0.0, "neutral": 0.1}


def _visit(camera: str, n: int, at: int) -> dict:
    return samples.face_expression(site_id="tiny", camera_id=camera, track_id=f"t{n}", kind="track_end",
                                   event_time_ms=at, duration_ms=30_000, frame_count=300,
                                   event_id=samples.new_event_id(at), probabilities=HAPPY, top_class="happy",
                                   valence=0.9)


def tiny_lake(extra: tuple[dict, ...] = ()) -> duckdb.DuckDBPyConnection:
    """Camera a: 3 customers (too few); camera b: 8; camera a silent (no heartbeat) from 10:00 to 13:00."""
    events = [_visit("a", i, START + 9 * HOUR_MS + i * 60_000) for i in range(3)]
    events += [_visit("b", i, START + 9 * HOUR_MS + i * 60_000) for i in range(8)]
    for camera in ("a", "b"):
        for minute in range(0, 24 * 60, 15):
            at = START + minute * 60_000
            if camera == "a" and START + 10 * HOUR_MS <= at < START + 13 * HOUR_MS:
                continue
            events.append(samples.camera_heartbeat(site_id="tiny", camera_id=camera, event_time_ms=at,
                                                   event_id=samples.new_event_id(at)))
    events.append(samples.sentiment_alarm(site_id="tiny", camera_id=None, event_time_ms=START + 9 * HOUR_MS + 1))
    events += extra
    con = duckdb.connect()
    register_events(con, events, quarantine=[("{not json", "$: malformed JSON")])
    return con


def _camera_row(html: str, camera: str) -> str:
    match = re.search(rf"<tr><td>{re.escape(camera)}</td>.*?</tr>", html)
    assert match, camera
    return match.group(0)


def test_aggregates_below_min_tracks_are_suppressed_never_shown() -> None:
    report = build_report(tiny_lake(), ReportOptions(START, START + 24 * HOUR_MS, "tiny", forecast=False))
    assert "too few customers" in _camera_row(report.html, "tiny/a")
    # b's 8 are enough, but the site's 11 minus b's 8 would give a's 3 back: b is hidden with a
    assert "too few customers" in _camera_row(report.html, "tiny/b")
    cameras = report.tables["cameras"]
    a = cameras[(cameras["camera_id"] == "a") & (cameras["tracks"] > 0)]
    assert len(a) == 1 and bool(a["suppressed"].iloc[0]) and a["net_score"].isna().all()
    b = cameras[(cameras["camera_id"] == "b") & (cameras["tracks"] > 0)]
    # the same in that hour: hourly.csv's 11 minus b's 8 in cameras.csv would give a's 3 back
    assert b["tracks"].tolist() == [8] and b["net_score"].isna().all() and b["suppressed"].all()
    assert "too few customers (3)" not in report.html  # the site hour has 11: shown as a number
    only_a = build_report(tiny_lake(), ReportOptions(START, START + 24 * HOUR_MS, "tiny", min_tracks=12,
                                                     forecast=False))
    assert only_a.tables["hourly"]["net_score"].isna().all()
    assert "too few customers (11) to show an expression mix" in only_a.html
    assert "too few customers (11)" in only_a.html  # the heatmap cell says why it is blank


def test_an_offline_camera_is_a_gap_never_zero_or_a_bad_mood() -> None:
    report = build_report(tiny_lake(), ReportOptions(START, START + 24 * HOUR_MS, "tiny", forecast=False))
    cameras = report.tables["cameras"]
    offline = cameras[cameras["offline"]]
    assert sorted(offline["camera_id"].unique()) == ["a"]
    assert sorted(offline["hour_ms"]) == [START + h * HOUR_MS for h in (10, 11, 12)]
    assert offline["net_score"].isna().all()  # no value at all, neither 0 nor negative
    spans = report.tables["silent_cameras"]
    assert spans[["camera_id", "hours"]].values.tolist() == [["a", 3]]
    assert "camera offline: no heartbeat for 3 h" in report.html
    assert 'class="alarm"' in report.html  # the alarm is marked on the sentiment chart


@cache
def full_report() -> Report:
    h = history()
    business = parse_business_events(list(business_csv_lines(h)))
    return build_report(lake(), ReportOptions(h.end_ms - 7 * 24 * HOUR_MS, h.end_ms, None, business=business))


def test_multi_site_report_is_self_contained_and_has_every_section(tmp_path: Path) -> None:
    report = full_report()
    written = write_report(report, tmp_path)
    html = written[0].read_text(encoding="utf-8")
    assert written[0].stat().st_size < 5 * 1024 * 1024
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)  # no external request
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.I)
    sites = sorted(history().sites)
    for anchor in ("headline", *(f"site-{s}" for s in sites), "alarms", "cameras", "expressions", "visits",
                   "forecast", "drivers", "league", "quality"):
        assert f'<section id="{anchor}">' in html, anchor
    assert html.count('class="chart heatmap"') == len(sites)  # one per site, never pooled
    assert "not proof of cause" in html
    silent = next(i for i in history().incidents if i.kind == "silent_camera")
    assert f"{silent.site_id}/{silent.camera_id}" in report.tables["silent_cameras"].assign(
        key=lambda d: d["site_id"] + "/" + d["camera_id"])["key"].tolist()
    for name in ("hourly", "cameras", "heatmap", "forecast", "forecast_backtest", "drivers", "alarms"):
        assert (tmp_path / f"{name}.csv").is_file(), name
    exported = pd.read_csv(tmp_path / "hourly.csv")
    shown = exported[exported["net_score"].notna()]
    assert (shown["tracks"] >= 5).all() and exported.loc[exported["tracks"] < 5, "net_score"].isna().all()
    assert set(pd.read_csv(tmp_path / "forecast_backtest.csv")["site_id"]) == set(history().sites)


@pytest.mark.parametrize("site", ["cafe-central"])
def test_one_site_report_has_no_league_table(site: str) -> None:
    h = history()
    report = build_report(lake(), ReportOptions(h.end_ms - 7 * 24 * HOUR_MS, h.end_ms, site, forecast=False))
    assert '<section id="league">' not in report.html
    assert set(report.tables["hourly"]["site_id"]) == {site}


def test_a_camera_is_offline_only_while_it_existed_and_data_had_arrived() -> None:
    installed_at_noon = tuple(samples.camera_heartbeat(site_id="tiny", camera_id="c", event_time_ms=START + h * HOUR_MS,
                                                       event_id=samples.new_event_id(START + h * HOUR_MS))
                              for h in (12, 13, 16))
    two_days = ReportOptions(START, START + 48 * HOUR_MS, "tiny", forecast=False)
    report = build_report(tiny_lake(installed_at_noon), two_days)
    offline = report.tables["cameras"]
    offline = offline[offline["offline"]]
    c_hours = sorted(int((h - START) // HOUR_MS) for h in offline[offline["camera_id"] == "c"]["hour_ms"])
    assert c_hours == [14, 15] + list(range(17, 24))  # not before its first heartbeat at 12:00
    assert offline["hour_ms"].max() < START + 24 * HOUR_MS  # the second day has no data yet: no outage


def test_the_drivers_table_never_shows_a_p_value_of_zero() -> None:
    drivers = full_report().html.split('<section id="drivers">')[1].split("</section>")[0]
    assert "<td>0.000</td>" not in drivers
    assert "<td>&lt;0.001</td>" in drivers  # the planted promotion is that clear


def test_a_camera_nobody_came_to_is_named_once_without_an_empty_chart() -> None:
    """Camera c sent its heartbeats all day but saw no one: its row says "no customers" (nothing is hidden,
    there is nothing), and instead of an empty chart one line names it; a and b keep their charts."""
    beats = tuple(samples.camera_heartbeat(site_id="tiny", camera_id="c", event_time_ms=START + minute * 60_000,
                                           event_id=samples.new_event_id(START + minute * 60_000))
                  for minute in range(0, 24 * 60, 15))
    report = build_report(tiny_lake(beats), ReportOptions(START, START + 24 * HOUR_MS, "tiny", forecast=False))
    row = _camera_row(report.html, "tiny/c")
    assert "no customers" in row and "too few customers" not in row
    assert "tiny/c: net score by hour" not in report.html
    assert "No customer in the period, so no chart: tiny/c." in report.html
    assert "tiny/a: net score by hour" in report.html and "tiny/b: net score by hour" in report.html
