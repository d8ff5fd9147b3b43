"""Suppression that holds: over generated lakes, no view shows a measure over fewer than MIN_TRACKS
customers, and no difference between a day's total and its shown rows gives one back."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.analytics.source import register_events
from batch.lake.tables import sites_frame
from batch.sql.local_time import register_local_time
from batch.sql.views import views
from schemas.expressions import EXPRESSIONS
from schemas.privacy import DEFAULT_MIN_TRACKS as MIN_TRACKS
from tests.batch.lakes import HOUR_MS, T0, visit

MEASURES = ("mean_valence", "net_score", "net_low", "net_high", "share")

visits_strategy = st.lists(st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["cam-a", "cam-b", "cam-c"]),
                                     st.integers(0, 47), st.sampled_from(EXPRESSIONS)), max_size=60)


def _connection(visits: list[tuple[str, str, int, str]]) -> duckdb.DuckDBPyConnection:
    return _connection_of([visit(T0 + hour * HOUR_MS + i * 1000, site=site, camera=camera, track=f"t{i}", top=top)
                           for i, (site, camera, hour, top) in enumerate(visits)])


def _connection_of(events: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    register_local_time(con)
    register_events(con, events)
    con.register("sites", sites_frame([{"site_id": "s1", "timezone": "Europe/Berlin"},
                                       {"site_id": "s2", "timezone": "America/New_York"}]))
    for view in views():
        con.execute(f'CREATE VIEW "{view.name}" AS {view.duckdb()}')  # nosec B608: our own view files
    return con


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.sql(f'SELECT * FROM "{name}"').to_arrow_table().to_pylist()  # nosec B608
    return rows


def _hidden_sums(rows: list[dict[str, Any]], count: str) -> dict[tuple[Any, ...], int]:
    sums: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in rows:
        if row["suppressed"]:
            sums[(row["site_id"], row["local_date"])] += row[count]
    return sums


@settings(max_examples=30, deadline=None)
@given(visits_strategy)
def test_no_view_lets_a_reader_recover_a_suppressed_measure(visits: list[tuple[str, str, int, str]]) -> None:
    con = _connection(visits)
    for name in ("sentiment_by_hour_site", "sentiment_by_camera", "expression_mix", "visits"):
        for row in _rows(con, name):
            if row["suppressed"]:  # no measure beside a suppressed row, and no class count either
                assert all(row.get(m) is None for m in MEASURES), (name, row)
                assert name != "expression_mix" or row["tracks"] is None, row
            else:
                count = row.get("tracks") if name != "expression_mix" else row["total_tracks"]
                assert (count if count is not None else row["visits"]) >= MIN_TRACKS or name == "sentiment_by_hour_site"
    # a day's total (expression_mix: every class count once the day has enough) minus its shown hours
    # or cameras is the sum over the hidden ones: that sum must cover MIN_TRACKS customers or none
    days = {(r["site_id"], r["local_date"]): r["total_tracks"] for r in _rows(con, "expression_mix")}
    for name in ("sentiment_by_hour_site", "sentiment_by_camera"):
        for key, hidden in _hidden_sums(_rows(con, name), "tracks").items():
            # all hidden: only the day's own total is left, itself suppressed below MIN_TRACKS
            everything = hidden == days[key] and days[key] < MIN_TRACKS
            assert hidden >= MIN_TRACKS or everything, (name, key, hidden, days[key])
    for row in _rows(con, "sentiment_by_hour_site"):
        if not row["suppressed"]:
            assert row["tracks"] >= 1 and row["net_low"] <= row["net_score"] <= row["net_high"]


def _unusable(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "quality": {**event["quality"], "usable": False}}


def _valence_behind_hidden(con: duckdb.DuckDBPyConnection) -> dict[tuple[Any, ...], float]:
    """Per local day: the visits view's valence sum minus the shown hours' (what differencing yields),
    the day's faces rated counted from the hours (counts are never hidden)."""
    shown: dict[tuple[Any, ...], float] = defaultdict(float)
    rated: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in _rows(con, "sentiment_by_hour_site"):
        key = (row["site_id"], row["local_date"])
        rated[key] += row["tracks"]
        if not row["suppressed"]:
            shown[key] += row["mean_valence"] * row["tracks"]
    days = {(r["site_id"], r["local_date"]): r for r in _rows(con, "visits") if not r["suppressed"]}
    return {key: day["mean_valence"] * rated[key] - shown[key] for key, day in days.items()}


def test_a_days_visits_minus_its_hours_do_not_give_back_an_unusable_face() -> None:
    """Ten happy customers in hours that are all shown, and one face the quality gate refused: no view
    shows that face's valence, so the visits view's day must not hold it either."""
    happy = [visit(T0 + (9 + i % 2) * HOUR_MS + i * 1000, site="s1", track=f"t{i}", top="happy") for i in range(10)]
    lone = _unusable(visit(T0 + 11 * HOUR_MS, site="s1", track="blurry", top="sad"))
    con = _connection_of([*happy, lone])
    hours = _rows(con, "sentiment_by_hour_site")
    assert not any(r["suppressed"] for r in hours) and sum(r["tracks"] for r in hours) == 10
    day = _rows(con, "visits")
    assert [d["visits"] for d in day] == [11]  # the blurry face is still a visit
    # what an analyst derives from the two views is the valence of no face at all
    assert _valence_behind_hidden(con) == {("s1", day[0]["local_date"]): pytest.approx(0.0, abs=1e-9)}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 23), st.sampled_from(EXPRESSIONS), st.booleans()), max_size=40))
def test_the_visits_views_valence_covers_the_shown_hours_or_min_tracks_more(
        faces: list[tuple[int, str, bool]]) -> None:
    """The visits view's valence sum minus the shown hours' is over no face or at least MIN_TRACKS faces."""
    events = [visit(T0 + hour * HOUR_MS + i * 1000, site="s2", track=f"t{i}", top=top)
              for i, (hour, top, _) in enumerate(faces)]
    con = _connection_of([e if usable else _unusable(e) for e, (_, _, usable) in zip(events, faces, strict=True)])
    hidden_hours: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in _rows(con, "sentiment_by_hour_site"):
        hidden_hours[(row["site_id"], row["local_date"])] += row["tracks"] if row["suppressed"] else 0
    for key, difference in _valence_behind_hidden(con).items():
        behind = hidden_hours[key]  # usable faces of the hidden hours: MIN_TRACKS at least, or none
        assert behind == 0 or behind >= MIN_TRACKS, (key, behind)
        if behind == 0:
            assert difference == pytest.approx(0.0, abs=1e-9), (key, difference)
