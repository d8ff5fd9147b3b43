"""`local_time(instant, zone)`: DuckDB's local time from the pinned tzdata, equal to Python's
`datetime.astimezone(ZoneInfo(zone))` for every instant and zone, on every connection that runs our SQL."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import duckdb
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batch.lake.tables import ensure_tables, sites_frame
from batch.sql.local_time import local_micros, register_local_time
from batch.sql.runner import QueryError, connect, run_query
from batch.sql.views import duckdb_sql
from schemas.time_zones import CYCLE_S
from tests.batch.lakes import HOUR_MS, compact_folder, new_catalog, visit, write_jsonl

ZONES = sorted(zoneinfo.available_timezones() - {"localtime"})
SPECIAL = ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "Europe/Berlin", "America/Vancouver",
           "Africa/Casablanca", "America/Havana", "Pacific/Chatham", "UTC"]
UTC = dt.UTC


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register_local_time(con)
    return con


def _in_sql(pairs: list[tuple[dt.datetime, str]]) -> list[dt.datetime | None]:
    con = _connection()
    rows = con.execute("SELECT local_time(t, z) FROM (SELECT unnest(?::TIMESTAMPTZ[]) AS t, "
                       "unnest(?::VARCHAR[]) AS z, generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i",
                       [[p[0] for p in pairs], [p[1] for p in pairs], [p[1] for p in pairs]]).fetchall()
    return [r[0] for r in rows]


def _python(moment: dt.datetime, zone: str) -> dt.datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


instants = st.datetimes(dt.datetime(2, 1, 1), dt.datetime(9998, 12, 31), timezones=st.just(UTC))
recent = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(UTC))


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(st.one_of(instants, recent), st.sampled_from(ZONES) | st.sampled_from(SPECIAL)),
                      min_size=1, max_size=40))
@example(pairs=[(dt.datetime(2027, 1, 15, 12, tzinfo=UTC), "America/Vancouver")])
@example(pairs=[(dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Berlin"),  # 02:30 twice
                (dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Europe/Berlin"),
                (dt.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC), "Europe/Berlin"),  # 02:xx skipped
                (dt.datetime(2026, 3, 29, 1, tzinfo=UTC), "Europe/Berlin")])
@example(pairs=[(dt.datetime(2026, 4, 4, 14, 59, tzinfo=UTC), "Australia/Lord_Howe"),  # +11 -> +10:30
                (dt.datetime(2026, 4, 4, 15, tzinfo=UTC), "Australia/Lord_Howe"),
                (dt.datetime(2026, 1, 1, tzinfo=UTC), "Asia/Kolkata"),
                (dt.datetime(2026, 1, 1, tzinfo=UTC), "Asia/Kathmandu"),
                (dt.datetime(1700, 1, 1, tzinfo=UTC), "Asia/Kathmandu"),  # before its first transition (LMT)
                (dt.datetime(9000, 7, 1, tzinfo=UTC), "Europe/Berlin")])  # far past its file's last one
def test_local_time_is_pythons_zoneinfo_for_any_instant_and_zone(pairs: list[tuple[dt.datetime, str]]) -> None:
    assert _in_sql(pairs) == [_python(moment, zone) for moment, zone in pairs]


def test_the_awkward_zones_give_their_known_local_times() -> None:
    noon = dt.datetime(2026, 1, 15, 12, tzinfo=UTC)
    got = _in_sql([(noon, "Asia/Kolkata"), (noon, "Asia/Kathmandu"), (noon, "Australia/Lord_Howe"),
                   (dt.datetime(2026, 7, 15, 12, tzinfo=UTC), "Australia/Lord_Howe")])
    assert got == [dt.datetime(2026, 1, 15, 17, 30), dt.datetime(2026, 1, 15, 17, 45),
                   dt.datetime(2026, 1, 15, 23), dt.datetime(2026, 7, 15, 22, 30)]


def test_nulls_give_null_and_infinity_stays_infinite() -> None:
    con = _connection()
    rows = con.execute("SELECT local_time(NULL, 'UTC'), local_time(TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL), "
                       "local_time('infinity'::TIMESTAMPTZ, 'Asia/Kolkata') = 'infinity'::TIMESTAMP, "
                       "local_time('-infinity'::TIMESTAMPTZ, 'Asia/Kolkata') = '-infinity'::TIMESTAMP").fetchall()
    assert rows == [(None, None, True, True)]
    mixed = con.execute("SELECT local_time(t, z) FROM (VALUES (TIMESTAMPTZ '2026-01-01 00:00:00+00', 'Asia/Tokyo'), "
                        "(NULL, 'Asia/Tokyo'), (TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL)) AS v(t, z)").fetchall()
    assert mixed == [(dt.datetime(2026, 1, 1, 9),), (None,), (None,)]


@settings(max_examples=30, deadline=None)
@given(zone=st.sampled_from(SPECIAL), seconds=st.integers(0, CYCLE_S - 1), cycles=st.integers(1, 600))
def test_past_the_years_python_holds_the_zones_rule_repeats_every_400_years(zone: str, seconds: int,
                                                                           cycles: int) -> None:
    """Beyond year 9999 there is no Python datetime to compare with: the rule's 400-year cycle is."""
    base = np.array([int(dt.datetime(2500, 1, 1, tzinfo=UTC).timestamp()) + seconds], dtype=np.int64) * 1_000_000
    later = base + cycles * CYCLE_S * 1_000_000
    assert (local_micros(later, zone) - later).tolist() == (local_micros(base, zone) - base).tolist()


def test_an_unknown_zone_is_named() -> None:
    with pytest.raises(duckdb.Error, match=r"local_time.*'Mars/Olympus' is not an IANA time zone"):
        _connection().execute("SELECT local_time(TIMESTAMPTZ '2026-01-01 00:00:00+00', 'Mars/Olympus')").fetchall()


def test_registering_twice_is_harmless() -> None:
    con = _connection()
    register_local_time(con)
    assert con.execute("SELECT local_time(TIMESTAMPTZ '2026-06-01 00:00:00+00', 'Europe/Berlin')").fetchall() == \
        [(dt.datetime(2026, 6, 1, 2),)]


def test_the_transpiled_views_call_the_projects_function_not_duckdbs_zone_data() -> None:
    sql = duckdb_sql("SELECT hour(at_timezone(t, 'America/Vancouver')) FROM x")
    assert "LOCAL_TIME(" in sql.upper() and "AT TIME ZONE" not in sql.upper()


# A café in Vancouver in January 2027: British Columbia keeps UTC-7 all year from November 2026 in the
# pinned tzdata (2026f); older zone data (Debian's 2025b, say) says UTC-8.
VANCOUVER = sites_frame([{"site_id": "yvr-1", "name": "Café Vancouver", "timezone": "America/Vancouver"}])
JANUARY = dt.datetime(2027, 1, 14, tzinfo=UTC)


@pytest.fixture(scope="module")
def vancouver(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("yvr")
    first = int(JANUARY.timestamp() * 1000)
    visits = [visit(first + hour * HOUR_MS + 60_000, site="yvr-1", track=f"t{hour}") for hour in range(72)]
    write_jsonl(root / "raw" / "a.jsonl", visits)
    catalog = new_catalog(root / "lake")
    compact_folder(catalog, root / "raw")
    return {"tables": ensure_tables(catalog), "visits": visits}


def test_the_views_over_a_compacted_lake_give_vancouvers_tzdata_hours(vancouver: dict[str, Any]) -> None:
    rows = run_query(vancouver["tables"], "SELECT hour, local_date, local_hour FROM sentiment_by_hour_site "
                                          "ORDER BY hour", sites=VANCOUVER).table.to_pylist()
    assert len(rows) == 72
    for row in rows:
        local = row["hour"].astimezone(zoneinfo.ZoneInfo("America/Vancouver"))
        assert (row["local_date"], row["local_hour"]) == (local.date(), local.hour)
    noon = next(r for r in rows if r["hour"] == dt.datetime(2027, 1, 15, 12, tzinfo=UTC))
    assert noon["local_hour"] == _python(dt.datetime(2027, 1, 15, 12, tzinfo=UTC), "America/Vancouver").hour
    days = run_query(vancouver["tables"], "SELECT local_date, visits FROM visits ORDER BY local_date",
                     sites=VANCOUVER).table.to_pylist()
    expected: dict[dt.date, int] = {}
    for v in vancouver["visits"]:
        day = _python(dt.datetime.fromtimestamp(v["event_time_ms"] / 1000, UTC), "America/Vancouver").date()
        expected[day] = expected.get(day, 0) + 1
    assert {r["local_date"]: r["visits"] for r in days} == expected


def test_a_users_locked_down_query_gets_local_time_from_the_same_function(vancouver: dict[str, Any]) -> None:
    rows = run_query(vancouver["tables"], "SELECT f.event_time AS t, local_time(f.event_time, s.timezone) AS "
                                          "local FROM face_expression f JOIN sites s USING (site_id) ORDER BY t",
                     sites=VANCOUVER).table.to_pylist()
    assert rows and all(r["local"] == _python(r["t"], "America/Vancouver") for r in rows)
    with pytest.raises(QueryError):  # still locked down: no files
        run_query(vancouver["tables"], "SELECT * FROM read_csv('/etc/passwd')", sites=VANCOUVER)


def test_the_lakes_connection_for_the_analytics_has_it(vancouver: dict[str, Any]) -> None:
    connection, _ = connect(vancouver["tables"], sites=VANCOUVER)
    try:
        assert connection.execute("SELECT local_time(TIMESTAMPTZ '2027-01-15 12:00:00+00', 'America/Vancouver')"
                                  ).fetchall() == [(_python(dt.datetime(2027, 1, 15, 12, tzinfo=UTC),
                                                            "America/Vancouver"),)]
    finally:
        connection.close()
