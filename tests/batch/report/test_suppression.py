"""Suppression that holds in the report: over generated lakes, no export shows a measure over fewer
than min_tracks customers, no class counts beside it, and no total minus the shown rows gives one back."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.analytics.forecast import hour_of_week
from batch.analytics.source import register_events
from batch.lake.tables import sites_frame
from batch.report.build import ReportOptions, build_report, write_report
from batch.report.data import local_day
from batch.sql.local_time import register_local_time
from batch.sql.views import views
from schemas.expressions import EXPRESSIONS
from tests.batch.lakes import HOUR_MS, T0, visit

MIN = 5
visits_strategy = st.lists(st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["cam-a", "cam-b"]),
                                     st.integers(0, 47), st.sampled_from(EXPRESSIONS)), min_size=1, max_size=50)


def _hidden_ok(frame: pd.DataFrame, groups: list[str]) -> None:
    """Within each group whose total is shown elsewhere, the hidden rows hold MIN or more customers
    together, or every row is hidden (and the total too: it is then under MIN)."""
    rated = frame[frame["tracks"] > 0]
    for key, rows in rated.groupby(groups):
        hidden = int(rows.loc[rows["net_score"].isna(), "tracks"].sum())
        total = int(rows["tracks"].sum())
        assert hidden == 0 or hidden >= MIN or (hidden == total and total < MIN), (key, hidden, total)


def _hours_hidden_ok(cameras: pd.DataFrame, hourly: pd.DataFrame) -> None:
    """hourly.csv minus cameras.csv: within each site hour, the camera hours hidden hold MIN or more
    customers together, or none while the site's hour is shown, or all of the hour (hidden in
    hourly.csv too, where the site's own rule holds)."""
    site_hours = hourly.set_index(["site_id", "hour_ms"])
    for (site, hour), rows in cameras[cameras["tracks"] > 0].groupby(["site_id", "hour_ms"]):
        hidden = int(rows.loc[rows["net_score"].isna(), "tracks"].sum())
        total = int(site_hours.at[(site, hour), "tracks"])
        shown = not bool(site_hours.at[(site, hour), "suppressed"])
        assert (hidden == 0 and shown) or hidden >= MIN or (hidden == total and not shown), \
            (site, hour, hidden, total, shown)


def test_a_site_hour_minus_its_shown_cameras_gives_back_no_lone_customer() -> None:
    """The real demo history's report did: seven at the door and one on the terrace in one hour, the
    site's hour shown in hourly.csv and the door's in cameras.csv."""
    events = [visit(T0 + 10 * HOUR_MS + i * 1000, site="s1", camera="door", track=f"d{i}", top="happy")
              for i in range(7)]
    events.append(visit(T0 + 10 * HOUR_MS + 30_000, site="s1", camera="terrace", track="lone", top="angry"))
    # the terrace's other hours are busy, so its own line hides only the lone hour's complement
    events += [visit(T0 + h * HOUR_MS + i * 1000, site="s1", camera="terrace", track=f"t{h}-{i}", top="happy")
               for h in (11, 12) for i in range(6)]
    con = duckdb.connect()
    register_events(con, events)
    report = build_report(con, ReportOptions(T0, T0 + 24 * HOUR_MS, None, min_tracks=MIN, forecast=False))
    hourly, cameras = report.tables["hourly"], report.tables["cameras"]
    ten = T0 + 10 * HOUR_MS
    assert hourly.set_index("hour_ms").at[ten, "tracks"] == 8
    assert bool(cameras.set_index(["camera_id", "hour_ms"]).at[("terrace", ten), "suppressed"])
    _hours_hidden_ok(cameras, hourly)


@settings(max_examples=12, deadline=None)
@given(visits_strategy)
def test_no_report_export_lets_a_reader_recover_a_suppressed_measure(visits: list[tuple[str, str, int, str]],
                                                                     ) -> None:
    events = [visit(T0 + hour * HOUR_MS + i * 1000, site=site, camera=camera, track=f"t{i}", top=top)
              for i, (site, camera, hour, top) in enumerate(visits)]
    con = duckdb.connect()
    register_events(con, events)
    report = build_report(con, ReportOptions(T0, T0 + 48 * HOUR_MS, None, min_tracks=MIN, forecast=False))
    hourly, cameras = report.tables["hourly"], report.tables["cameras"]
    for frame in (hourly, cameras):
        shown = frame[frame["net_score"].notna()]
        assert (shown["tracks"] >= MIN).all()
    _hidden_ok(hourly, ["site_id"])
    _hidden_ok(cameras, ["site_id", "camera_id"])
    _hours_hidden_ok(cameras, hourly)
    for site in {s for s, *_ in visits}:
        heat = report.tables["heatmap"]
        _hidden_ok(heat[heat["site_id"] == site].assign(site_id=site), ["site_id"])
        # a heatmap cell shown holds no hour the hourly table hides (the two choose complements apart)
        hidden_hours = hourly[(hourly["site_id"] == site) & hourly["suppressed"] & (hourly["tracks"] > 0)]
        cells = {(int(h) // 24, int(h) % 24) for h in hour_of_week(hidden_hours["hour_ms"].to_numpy(), "UTC")}
        shown = heat[(heat["site_id"] == site) & ~heat["suppressed"]]
        assert not cells & set(zip(shown["weekday"], shown["hour"], strict=True)), site
    with tempfile.TemporaryDirectory() as folder:
        for path in write_report(report, Path(folder))[1:]:
            exported = pd.read_csv(path) if path.stat().st_size > 1 else pd.DataFrame()
            assert not {"positive", "negative"} & set(exported.columns), path.name  # "3 of 3 happy"


def _view_and_report(events: list[dict[str, Any]], days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sentiment_by_hour_site view and the report's hourly table over the same lake."""
    con = duckdb.connect()
    register_local_time(con)
    register_events(con, events)
    con.register("sites", sites_frame([{"site_id": "s1", "timezone": "Europe/Berlin"}]))
    view = next(v for v in views(MIN) if v.name == "sentiment_by_hour_site")
    con.execute(f'CREATE VIEW "{view.name}" AS {view.duckdb()}')  # nosec B608: our own view file
    shown = con.sql("SELECT epoch_ms(hour) AS hour_ms, local_date, tracks, suppressed "
                    "FROM sentiment_by_hour_site").df()
    report = build_report(con, ReportOptions(T0 - 2 * HOUR_MS, T0 - 2 * HOUR_MS + days * 24 * HOUR_MS, None,
                                             min_tracks=MIN, forecast=False, timezone="Europe/Berlin"))
    hourly, heat = report.tables["hourly"], report.tables["heatmap"]
    # a heatmap cell shown holds no hour the hourly table hides (the two choose complements apart)
    hidden = hourly[hourly["suppressed"] & (hourly["tracks"] > 0)]["hour_ms"].to_numpy()
    cells = {(int(h) // 24, int(h) % 24) for h in hour_of_week(hidden, "Europe/Berlin")}
    assert not cells & set(zip(heat.loc[~heat["suppressed"], "weekday"], heat.loc[~heat["suppressed"], "hour"],
                               strict=True))
    return shown, hourly


def _hidden_in_both_ok(shown: pd.DataFrame, hourly: pd.DataFrame) -> None:
    """An hour hidden by the view but shown in the report (or the reverse) is known: within a local day,
    the hours hidden in both hold MIN or more customers, or none, or the whole day (under MIN)."""
    both = shown.merge(hourly[["hour_ms", "suppressed"]], on="hour_ms", suffixes=("", "_report"))
    for day, rows in both.groupby("local_date"):
        hidden = int(rows.loc[rows["suppressed"] & rows["suppressed_report"], "tracks"].sum())
        total = int(rows["tracks"].sum())
        assert hidden == 0 or hidden >= MIN or (hidden == total and total < MIN), (day, hidden, total)


def test_the_view_and_the_report_together_give_back_no_lone_hour() -> None:
    """One angry customer at 09:00 on the second day, six at 10:00 and 11:00; five at 10:00 the day before.
    The view hid the second day's 10:00 with the lone hour, the report the first day's (fewer): each
    showed what the other hid, and the second day's total minus its hours gave the lone one back."""
    day = 24 * HOUR_MS  # T0 - 2 h is midnight in Berlin (summer time)
    events = [visit(T0 + 8 * HOUR_MS + i * 1000, site="s1", track=f"a{i}", top="happy") for i in range(5)]
    events.append(visit(T0 + day + 7 * HOUR_MS, site="s1", track="lone", top="angry"))
    events += [visit(T0 + day + h * HOUR_MS + i * 1000, site="s1", track=f"b{h}-{i}", top="happy")
               for h in (8, 9) for i in range(6)]
    shown, hourly = _view_and_report(events, days=2)
    assert sorted(shown.loc[shown["suppressed"], "tracks"]) == [1, 6]
    _hidden_in_both_ok(shown, hourly)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 47), st.sampled_from(EXPRESSIONS)), min_size=1, max_size=60))
def test_no_hour_the_view_and_the_report_both_hide_is_alone(visits: list[tuple[int, str]]) -> None:
    events = [visit(T0 - 2 * HOUR_MS + hour * HOUR_MS + i * 1000, site="s1", track=f"t{i}", top=top)
              for i, (hour, top) in enumerate(visits)]
    _hidden_in_both_ok(*_view_and_report(events, days=2))


def _camera_hours_within_the_views_days_ok(events: list[dict[str, Any]], days: int) -> None:
    """The view's camera day (sentiment_by_camera) and site day (expression_mix's total) minus the
    report's camera hours shown in it: the camera hours hidden there hold MIN or more, or none."""
    con = duckdb.connect()
    register_local_time(con)
    register_events(con, events)
    con.register("sites", sites_frame([{"site_id": "s1", "timezone": "Europe/Berlin"}]))
    for view in views(MIN):
        con.execute(f'CREATE VIEW "{view.name}" AS {view.duckdb()}')  # nosec B608: our own view files
    camera_days = con.sql("SELECT camera_id, local_date FROM sentiment_by_camera WHERE NOT suppressed").df()
    site_days = con.sql("SELECT DISTINCT local_date FROM expression_mix WHERE NOT suppressed").df()
    report = build_report(con, ReportOptions(T0 - 2 * HOUR_MS, T0 - 2 * HOUR_MS + days * 24 * HOUR_MS, None,
                                             min_tracks=MIN, forecast=False, timezone="Europe/Berlin"))
    cameras = report.tables["cameras"]
    cameras = cameras[cameras["tracks"] > 0].assign(
        local_date=[d.date() for d in local_day(cameras.loc[cameras["tracks"] > 0, "hour_ms"], "Europe/Berlin")])
    margins = [(["camera_id", "local_date"], camera_days), (["local_date"], site_days)]
    for keys, margin in margins:
        shown = margin.assign(local_date=[d.date() if hasattr(d, "date") else d for d in margin["local_date"]])
        for key, rows in cameras.merge(shown, on=keys).groupby(keys):
            hidden = int(rows.loc[rows["net_score"].isna(), "tracks"].sum())
            assert hidden == 0 or hidden >= MIN, (key, hidden)


def test_a_views_camera_day_minus_the_reports_camera_hours_gives_back_no_lone_customer() -> None:
    """The door's day in sentiment_by_camera (seven customers) minus its 10:00 in cameras.csv (six) gave its
    09:00 (one) back: the door's own line hid the day before's 10:00 with it, not this day's."""
    day = 24 * HOUR_MS
    events = [visit(T0 + 8 * HOUR_MS + i * 1000, site="s1", camera="door", track=f"a{i}") for i in range(5)]
    events.append(visit(T0 + day + 7 * HOUR_MS, site="s1", camera="door", track="lone", top="angry"))
    events += [visit(T0 + day + 7 * HOUR_MS + i * 1000, site="s1", camera="terrace", track=f"t{i}")
               for i in range(1, 7)]
    events += [visit(T0 + day + 8 * HOUR_MS + i * 1000, site="s1", camera="door", track=f"b{i}") for i in range(6)]
    _camera_hours_within_the_views_days_ok(events, days=2)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["door", "terrace"]), st.integers(0, 47), st.sampled_from(EXPRESSIONS)),
                min_size=1, max_size=60))
def test_no_views_day_minus_the_reports_camera_hours_gives_back_fewer_than_min(
        visits: list[tuple[str, int, str]]) -> None:
    _camera_hours_within_the_views_days_ok(
        [visit(T0 - 2 * HOUR_MS + hour * HOUR_MS + i * 1000, site="s1", camera=camera, track=f"t{i}", top=top)
         for i, (camera, hour, top) in enumerate(visits)], days=2)
