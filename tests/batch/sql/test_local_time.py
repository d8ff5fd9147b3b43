"""The views in the site's own time (DST days included), and `moodlens sql` locked down to the lake."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from batch.lake.tables import ensure_tables, sites_frame, write_sites
from batch.sql.runner import QueryError, run_query
from tests.batch.lakes import HOUR_MS, compact_folder, new_catalog, visit, write_jsonl

SPRING = dt.datetime(2026, 3, 28, tzinfo=dt.UTC)  # Berlin moves 02:00 -> 03:00 on Sunday 29 March
AUTUMN = dt.datetime(2026, 10, 24, tzinfo=dt.UTC)  # and 03:00 -> 02:00 on Sunday 25 October
BERLIN = sites_frame([{"site_id": "berlin-1", "name": "Café Berlin", "timezone": "Europe/Berlin"}])


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("local")
    visits = []
    for start in (SPRING, AUTUMN):  # one visit every UTC hour for three days around each change
        first = int(start.timestamp() * 1000)
        for hour in range(72):
            for site in ("berlin-1", "utc-2"):
                visits.append(visit(first + hour * HOUR_MS + 60_000, site=site, track=f"{site}-{first}-{hour}"))
    write_jsonl(root / "raw" / "a.jsonl", visits)
    catalog = new_catalog(root / "lake")
    compact_folder(catalog, root / "raw")
    return {"tables": ensure_tables(catalog), "catalog": catalog, "visits": visits, "root": root}


def _rows(lake: dict[str, Any], query: str, **options: Any) -> list[dict[str, Any]]:
    return run_query(lake["tables"], query, sites=options.pop("sites", BERLIN), **options).table.to_pylist()


def test_a_local_day_has_23_24_or_25_hours_around_the_clock_changes(lake: dict[str, Any]) -> None:
    rows = _rows(lake, "SELECT site_id, local_date, count(*) AS hours FROM sentiment_by_hour_site "
                       "GROUP BY ALL ORDER BY ALL")
    berlin = {r["local_date"]: r["hours"] for r in rows if r["site_id"] == "berlin-1"}
    assert berlin[dt.date(2026, 3, 29)] == 23
    assert berlin[dt.date(2026, 3, 30)] == 24
    assert berlin[dt.date(2026, 10, 25)] == 25
    assert berlin[dt.date(2026, 10, 26)] == 24
    # the data starts at 00:00 UTC, 01:00 in Berlin: the first local day lacks its first hour
    assert berlin[dt.date(2026, 3, 28)] == 23 and berlin[dt.date(2026, 10, 24)] == 22
    # a site the site file does not name stays in UTC: whole days of 24 hours
    utc = {r["local_date"]: r["hours"] for r in rows if r["site_id"] == "utc-2"}
    assert utc == {dt.date(2026, m, d): 24 for m, days in ((3, (28, 29, 30)), (10, (24, 25, 26))) for d in days}


def test_the_hour_that_happens_twice_is_two_rows_and_the_skipped_one_none(lake: dict[str, Any]) -> None:
    rows = _rows(lake, "SELECT local_date, local_hour, hour FROM sentiment_by_hour_site "
                       "WHERE site_id = 'berlin-1' ORDER BY hour")
    hours = Counter((r["local_date"], r["local_hour"]) for r in rows)
    assert hours[(dt.date(2026, 10, 25), 2)] == 2
    assert hours[(dt.date(2026, 3, 29), 2)] == 0
    assert all(n == 1 for (day, hour), n in hours.items() if (day, hour) != (dt.date(2026, 10, 25), 2))
    # local hour = UTC hour + 1 in winter, + 2 in summer
    by_instant = {r["hour"]: r["local_hour"] for r in rows}
    assert by_instant[dt.datetime(2026, 3, 28, 10, tzinfo=dt.UTC)] == 11
    assert by_instant[dt.datetime(2026, 3, 30, 10, tzinfo=dt.UTC)] == 12


def test_weekday_and_local_date_in_the_day_views(lake: dict[str, Any]) -> None:
    visits = _rows(lake, "SELECT local_date, local_weekday, visits FROM visits WHERE site_id = 'berlin-1' "
                         "ORDER BY local_date")
    assert {r["local_date"]: r["visits"] for r in visits}[dt.date(2026, 10, 25)] == 25
    assert all(r["local_weekday"] == r["local_date"].isoweekday() for r in visits)
    # every visit is on exactly one local day
    assert sum(r["visits"] for r in visits) == sum(v["site_id"] == "berlin-1" for v in lake["visits"])


def test_the_lakes_sites_table_serves_when_no_site_file_is_given(lake: dict[str, Any], tmp_path: Path) -> None:
    tables = dict(lake["tables"])
    tables["sites"] = write_sites(lake["catalog"], BERLIN)
    rows = run_query(tables, "SELECT count(*) AS hours FROM sentiment_by_hour_site WHERE site_id = 'berlin-1' "
                             "AND local_date = DATE '2026-03-29'").table.to_pylist()
    assert rows == [{"hours": 23}]


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'Europe/Berln' is not an IANA time zone"):
        sites_frame([{"site_id": "x", "timezone": "Europe/Berln"}])


def test_a_copy_over_a_lake_file_is_refused_and_the_file_unchanged(lake: dict[str, Any]) -> None:
    table = lake["tables"]["face_expression"]
    path = next(iter(table.scan().plan_files())).file.file_path.removeprefix("file://")
    before = Path(path).read_bytes()
    with pytest.raises(QueryError, match="disabled by configuration"):
        run_query(lake["tables"], f"COPY (SELECT * FROM face_expression LIMIT 1) TO '{path}' (FORMAT parquet)")
    assert Path(path).read_bytes() == before
    assert pq.read_metadata(path).num_rows > 0


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "ATTACH '/tmp/moodlens-attach.db' AS other",
    "INSTALL httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
])
def test_files_databases_extensions_and_settings_are_out_of_reach(lake: dict[str, Any], query: str) -> None:
    with pytest.raises(QueryError):
        run_query(lake["tables"], query)
    assert not Path("/tmp/moodlens-attach.db").exists()


def test_writes_need_the_explicit_flag(lake: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    run_query(lake["tables"], f"COPY (SELECT count(*) AS n FROM face_expression) TO '{out}'", writable=True)
    assert out.read_text().splitlines() == ["n", str(len(lake["visits"]))]


def test_an_unknown_table_suggests_the_nearest_of_ours(lake: dict[str, Any]) -> None:
    with pytest.raises(QueryError, match='did you mean "visits"'):
        run_query(lake["tables"], "SELECT * FROM visit")
    with pytest.raises(QueryError, match='did you mean "face_expression"'):
        run_query(lake["tables"], "SELECT count(*) FROM face_expressions")


def test_show_tables_lists_every_table_and_view_with_columns(lake: dict[str, Any]) -> None:
    rows = run_query(lake["tables"], "SHOW TABLES").table.to_pylist()
    names = {r["name"]: r for r in rows}
    assert {"face_expression", "camera_heartbeat", "sentiment_window", "sentiment_alarm", "quarantine", "sites",
            "visits", "sentiment_by_hour_site", "sentiment_by_camera", "expression_mix",
            "alarms_with_windows"} <= set(names)
    assert "local_hour" in names["sentiment_by_hour_site"]["columns"]
    assert all(r["description"] for r in rows)


def test_sql_csv_output_keeps_formulas_as_text() -> None:
    import pyarrow as pa

    from batch.sql.output import as_csv

    text = as_csv(pa.table({"reason": ["=1+1", "fine", "@SUM(A1)"], "value": [-1.5, 2.0, 3.0]}))
    assert text.splitlines() == ["reason,value", "'=1+1,-1.5", "fine,2.0", "'@SUM(A1),3.0"]


def test_arithmetic_on_the_time_column_says_what_it_holds(lake: dict[str, Any]) -> None:
    with pytest.raises(QueryError, match=r"epoch_ms\(event_time\) gives epoch milliseconds"):
        run_query(lake["tables"], "SELECT event_time / 1000 FROM face_expression")
    with pytest.raises(QueryError, match=r"the lake's column is event_time, an instant"):  # the wire's name
        run_query(lake["tables"], "SELECT event_time_ms / 1000 FROM face_expression")
    rows = run_query(lake["tables"], "SELECT min(epoch_ms(event_time)) AS ms FROM face_expression").table
    assert rows.to_pylist() == [{"ms": min(v["event_time_ms"] for v in lake["visits"])}]


def test_comparing_the_time_column_with_epoch_milliseconds_says_what_it_holds(lake: dict[str, Any]) -> None:
    with pytest.raises(QueryError, match=r"epoch_ms\(event_time\) gives epoch milliseconds"):
        run_query(lake["tables"], "SELECT count(*) FROM face_expression WHERE event_time > 1764000000000")


def test_json_output_gives_sums_as_numbers_a_script_can_add(lake: dict[str, Any]) -> None:
    import json

    from batch.sql.output import as_json_lines

    table = run_query(lake["tables"], "SELECT site_id, sum(visits) AS visits, sum(visits) / 3 AS third "
                                      "FROM visits GROUP BY site_id ORDER BY site_id", sites=BERLIN).table
    rows = [json.loads(line) for line in as_json_lines(table).splitlines()]
    expected = Counter(v["site_id"] for v in lake["visits"])
    assert {r["site_id"]: r["visits"] for r in rows} == dict(expected)
    assert all(isinstance(r["visits"], int) and isinstance(r["third"], float) for r in rows)


def test_every_view_summary_is_its_whole_first_sentence() -> None:
    from batch.sql.views import views

    for view in views():
        assert view.summary.count("(") == view.summary.count(")"), view.summary
    by_name = {v.name: v.summary for v in views()}
    assert by_name["sentiment_by_hour_site"].endswith("(1 Monday .. 7 Sunday)")


def test_expression_mix_counts_are_integers_like_every_other_view(lake: dict[str, Any]) -> None:
    import pyarrow as pa

    table = run_query(lake["tables"], "SELECT tracks, total_tracks FROM expression_mix", sites=BERLIN).table
    assert table.schema.field("total_tracks").type == pa.int64() == table.schema.field("tracks").type
