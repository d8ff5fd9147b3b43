"""Every view on DuckDB against a small known lake, numbers computed here independently; each is Trino."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import pytest
import sqlglot

from batch.analytics.measures import net_score
from batch.lake.tables import ensure_tables
from batch.sql.runner import QueryError, run_query
from batch.sql.views import views
from schemas.expressions import EXPRESSIONS, NEGATIVE, POSITIVE, VALENCE
from schemas.privacy import DEFAULT_MIN_TRACKS as MIN_TRACKS
from tests.batch.lakes import DAY_MS, HOUR_MS, T0, compact_folder, new_catalog, update, visit, write_jsonl
from tests.schemas.events import sentiment_alarm, sentiment_window


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _hour(ms: int) -> dt.datetime:
    return _moment(ms // HOUR_MS * HOUR_MS)


def _day(ms: int) -> dt.datetime:
    return _moment(ms // DAY_MS * DAY_MS)


def _hidden(cells: dict[Any, int], least: int = MIN_TRACKS) -> set[Any]:
    """Complementary suppression, one cell at a time: below `least` hidden, then the smallest others
    until the hidden ones hold `least` together (or all are hidden)."""
    hide = {k for k, n in cells.items() if n < least}
    while hide and sum(cells[k] for k in hide) < least and len(hide) < len(cells):
        hide.add(min((k for k in cells if k not in hide), key=lambda k: (cells[k], k)))
    return hide


def _score(top: str) -> float:
    return 1.0 if top in POSITIVE else -1.0 if top in NEGATIVE else 0.0


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rng = random.Random(7)
    visits = []
    # (site, hour offset, number of visits): some hours below the privacy threshold
    for site, hour, count in [("cafe-1", 9, 7), ("cafe-1", 10, 3), ("cafe-1", 33, 12), ("shop-2", 9, 5),
                              ("shop-2", 12, 1)]:
        for i in range(count):
            visits.append(visit(T0 + hour * HOUR_MS + i * 60_000, site=site, camera=rng.choice(["cam-a", "cam-b"]),
                                track=f"t{hour}-{i}", top=rng.choice(EXPRESSIONS),
                                duration_ms=rng.randint(1000, 90_000)))
    unusable = visit(T0 + 9 * HOUR_MS + 30, site="cafe-1", top="angry")
    unusable["quality"]["usable"] = False
    updates = [update(T0 + 9 * HOUR_MS + i, top_class="sad") for i in range(20)]  # never counted as visits
    alarm_at = T0 + 9 * HOUR_MS + 15 * 60_000
    windows = [sentiment_window(event_id=f"01K{n:023d}", event_time_ms=alarm_at, window_end_ms=alarm_at,
                                window_start_ms=alarm_at - m * 60_000, window_minutes=m, tracks=t, camera_id=camera)
               for n, (m, t, camera) in enumerate([(5, 6, None), (15, 9, None), (15, 4, "cam-a")])]
    alarms = [sentiment_alarm(event_time_ms=alarm_at, camera_id=None, rule="low_sentiment"),
              sentiment_alarm(event_time_ms=alarm_at + 60_000, camera_id="cam-b", rule="camera_silent",
                              value=None, threshold=None)]
    root = tmp_path_factory.mktemp("views")
    write_jsonl(root / "raw" / "a.jsonl", [*visits, unusable, *updates, *windows, *alarms])
    catalog = new_catalog(root / "lake")
    compact_folder(catalog, root / "raw")
    return {"tables": ensure_tables(catalog), "visits": visits, "unusable": unusable, "alarm_at": alarm_at}


def _rows(lake: dict[str, Any], query: str) -> list[dict[str, Any]]:
    return run_query(lake["tables"], query).table.to_pylist()


@pytest.mark.parametrize("least", [1, 3, 6, 8])
def test_the_views_hide_below_the_threshold_they_are_given(lake: dict[str, Any], least: int) -> None:
    """A site whose min_tracks is not the default: its views hide by its own setting, as its report does."""
    groups: dict[tuple[str, dt.datetime], int] = defaultdict(int)
    for v in lake["visits"]:
        groups[(v["site_id"], _hour(v["event_time_ms"]))] += 1
    hidden: set[Any] = set()
    for site, day in {(s, h.date()) for s, h in groups}:
        hidden |= _hidden({k: n for k, n in groups.items() if k[0] == site and k[1].date() == day}, least)
    got = run_query(lake["tables"], "SELECT site_id, hour, suppressed, net_score FROM sentiment_by_hour_site",
                    min_tracks=least).table.to_pylist()
    assert {(r["site_id"], r["hour"]) for r in got if r["suppressed"]} == hidden
    assert all((r["net_score"] is None) == r["suppressed"] for r in got)
    mix = run_query(lake["tables"], "SELECT total_tracks, tracks FROM expression_mix", min_tracks=least).table
    assert all((t is None) == (total < least) for total, t in zip(*mix.to_pydict().values(), strict=True))


@pytest.mark.parametrize("view", views(), ids=lambda v: v.name)
def test_each_view_is_valid_trino(view: Any) -> None:
    parsed = sqlglot.parse_one(view.trino, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    assert parsed.find(sqlglot.exp.Select) is not None


def test_sentiment_by_hour_and_site(lake: dict[str, Any]) -> None:
    groups: dict[tuple[str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for v in lake["visits"]:
        groups[(v["site_id"], _hour(v["event_time_ms"]))].append(v)
    hidden: set[Any] = set()
    for site, day in {(s, h.date()) for s, h in groups}:
        hidden |= _hidden({k: len(v) for k, v in groups.items() if k[0] == site and k[1].date() == day})
    expected = []
    for (site, hour), members in sorted(groups.items()):
        enough = (site, hour) not in hidden
        expected.append({
            "site_id": site, "hour": hour, "tracks": len(members), "suppressed": not enough,
            "mean_valence": sum(VALENCE[m["top_class"]] for m in members) / len(members) if enough else None,
            "net_score": sum(_score(m["top_class"]) for m in members) / len(members) if enough else None})
    got = _rows(lake, "SELECT * FROM sentiment_by_hour_site ORDER BY site_id, hour")
    assert [{k: r[k] for k in ("site_id", "hour", "tracks", "suppressed")} for r in got] == \
        [{k: e[k] for k in ("site_id", "hour", "tracks", "suppressed")} for e in expected]
    for row, want in zip(got, expected, strict=True):
        for measure in ("mean_valence", "net_score"):
            assert row[measure] == pytest.approx(want[measure]) if want[measure] is not None else row[measure] is None
        members = groups[(row["site_id"], row["hour"])]
        interval = net_score(sum(m["top_class"] in POSITIVE for m in members),
                             sum(m["top_class"] in NEGATIVE for m in members), len(members), MIN_TRACKS)
        if row["suppressed"]:
            assert row["net_low"] is None and row["net_high"] is None
        else:  # the stream's and the report's interval, not another one
            assert interval is not None
            assert (row["net_low"], row["net_high"]) == (pytest.approx(interval.low), pytest.approx(interval.high))


def test_sentiment_by_camera(lake: dict[str, Any]) -> None:
    groups: dict[tuple[str, str, dt.datetime], list[str]] = defaultdict(list)
    for v in lake["visits"]:
        groups[(v["site_id"], v["camera_id"], _day(v["event_time_ms"]))].append(v["top_class"])
    hidden: set[Any] = set()
    for site, day in {(s, d) for s, _, d in groups}:
        hidden |= _hidden({k: len(v) for k, v in groups.items() if k[0] == site and k[2] == day})
    got = _rows(lake, "SELECT * FROM sentiment_by_camera ORDER BY site_id, camera_id, local_date")
    assert [(r["site_id"], r["camera_id"], r["local_date"], r["tracks"]) for r in got] == \
        [(s, c, d.date(), len(tops)) for (s, c, d), tops in sorted(groups.items())]
    for row in got:
        key = (row["site_id"], row["camera_id"], _moment(0).replace(year=row["local_date"].year,
               month=row["local_date"].month, day=row["local_date"].day))
        tops = groups[key]
        if key in hidden:
            assert row["suppressed"] and row["net_score"] is None and row["mean_valence"] is None
        else:
            assert row["net_score"] == pytest.approx(sum(map(_score, tops)) / len(tops))


def test_visits_count_every_track_end_with_duration_and_valence(lake: dict[str, Any]) -> None:
    every = [*lake["visits"], lake["unusable"]]  # a visit is a visit even when its face was not usable
    groups: dict[tuple[str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for v in every:
        groups[(v["site_id"], _day(v["event_time_ms"]))].append(v)
    got = {(r["site_id"], r["local_date"]): r for r in _rows(lake, "SELECT * FROM visits")}
    groups = {(s, d.date()): v for (s, d), v in groups.items()}
    assert set(got) == set(groups)
    for key, members in groups.items():
        row = got[key]
        assert row["visits"] == len(members)
        rated = [m for m in members if m["quality"]["usable"]]  # the valence of usable faces only
        if len(rated) >= MIN_TRACKS:
            assert row["mean_duration_s"] == pytest.approx(sum(m["duration_ms"] for m in members) / len(members) / 1000)
            assert row["mean_valence"] == pytest.approx(sum(m["valence"] for m in rated) / len(rated))
        else:
            assert row["suppressed"] and row["mean_duration_s"] is None


def test_expression_mix_shares_sum_to_one_per_site_and_day(lake: dict[str, Any]) -> None:
    counts: dict[tuple[str, dt.datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for v in lake["visits"]:
        counts[(v["site_id"], _day(v["event_time_ms"]))][v["top_class"]] += 1
    counts = {(s, d.date()): mix for (s, d), mix in counts.items()}
    got = _rows(lake, "SELECT * FROM expression_mix")
    assert {(r["site_id"], r["local_date"], r["expression"]) for r in got} == \
        {(s, d, e) for (s, d), mix in counts.items() for e in mix}
    for row in got:
        mix = counts[(row["site_id"], row["local_date"])]
        total = sum(mix.values())
        assert row["total_tracks"] == total
        if total >= MIN_TRACKS:
            assert row["tracks"] == mix[row["expression"]]
            assert row["share"] == pytest.approx(row["tracks"] / total)
        else:  # "3 of 3 happy" would undo the suppression with one division
            assert row["suppressed"] and row["tracks"] is None and row["share"] is None


def test_alarms_with_their_windows(lake: dict[str, Any]) -> None:
    got = _rows(lake, "SELECT rule, camera_id, window_minutes, window_tracks FROM alarms_with_windows "
                      "ORDER BY rule, window_minutes")
    assert got == [{"rule": "camera_silent", "camera_id": "cam-b", "window_minutes": None, "window_tracks": None},
                   {"rule": "low_sentiment", "camera_id": None, "window_minutes": 5, "window_tracks": 6},
                   {"rule": "low_sentiment", "camera_id": None, "window_minutes": 15, "window_tracks": 9}]


def test_a_one_day_one_site_query_reads_only_that_partition(lake: dict[str, Any]) -> None:
    day = _day(T0).date().isoformat()
    result = run_query(lake["tables"], f"SELECT count(*) AS n FROM face_expression WHERE site_id = 'shop-2' "
                                       f"AND event_time >= TIMESTAMP '{day}' AND event_time < TIMESTAMP "
                                       f"'{day} 23:59:59.999999'")
    scan = result.scans["face_expression"]
    assert result.table.to_pylist() == [{"n": sum(v["site_id"] == "shop-2" for v in lake["visits"])}]
    assert scan.files == 1 and scan.total_files == 3 and scan.bytes < scan.total_bytes


def test_a_syntax_error_names_the_line(lake: dict[str, Any]) -> None:
    with pytest.raises(QueryError, match="LINE 2"):
        run_query(lake["tables"], "SELECT count(*)\nFROM face_expression WHERE WHERE")


def test_a_connection_with_every_table_and_view_for_other_readers(lake: dict[str, Any]) -> None:
    from batch.sql.runner import connect
    connection, scans = connect(lake["tables"])
    try:
        visits = connection.sql("SELECT sum(visits) FROM visits").fetchall()[0][0]
        names = {row[0] for row in connection.sql("SHOW TABLES").fetchall()}
    finally:
        connection.close()
    assert visits == len(lake["visits"]) + 1
    assert {"face_expression", "quarantine", "sentiment_by_hour_site", "alarms_with_windows"} <= names
    assert set(scans) == set(lake["tables"])
