"""What the analytics read from the lake: SQL over a DuckDB connection on which the lake's tables exist.

The tables are the lake's: ``face_expression``, ``camera_heartbeat``, ``sentiment_window``,
``sentiment_alarm`` and ``quarantine``, with the Arrow schemas of ``batch/table_schema.py``. Any
connection that has them will do: the lake's own (``moodlens sql``), or one on which
``register_events`` put events read from a log or JSON Lines files (the demo, the tests).

Sentiment here counts customers the way the stream does: one vote per visit, from each track's
``track_end`` summary with a usable face; positive = happy, negative = angry/disgust/fear/sad.
Times are bucketed as integer epoch-hour milliseconds, so nothing depends on the session's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from batch.table_schema import to_arrow_table
from schemas.contract import CONTRACTS
from schemas.expressions import NEGATIVE, POSITIVE

HOUR_MS = 3_600_000
REGISTER_CHUNK = 20_000
EVENT_TABLES = ("face_expression", "camera_heartbeat", "sentiment_window", "sentiment_alarm")


@dataclass(frozen=True)
class Period:
    """[since_ms, until_ms) and optionally one site."""

    since_ms: int
    until_ms: int
    site: str | None = None


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    cursor = con.execute(sql, list(params))
    columns = [d[0] for d in cursor.description or []]
    return pd.DataFrame(cursor.fetchall(), columns=columns)


def _where(period: Period, alias: str = "") -> tuple[str, list[Any]]:
    prefix = f"{alias}." if alias else ""
    clause = (f"{prefix}event_time >= to_timestamp(?::DOUBLE / 1000) "
              f"AND {prefix}event_time < to_timestamp(?::DOUBLE / 1000)")
    params: list[Any] = [period.since_ms, period.until_ms]
    if period.site is not None:
        clause += f" AND {prefix}site_id = ?"
        params.append(period.site)
    return clause, params


def hourly_sentiment(con: duckdb.DuckDBPyConnection, period: Period, by_camera: bool = False) -> pd.DataFrame:
    """Per site (and camera) and hour with visits: visits, tracks (usable), positive, negative, valence."""
    where, params = _where(period)
    camera = "camera_id, " if by_camera else ""
    usable = "coalesce(quality.usable, true)"
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    sql = f"""
        SELECT site_id, {camera}(epoch_ms(event_time) // {HOUR_MS}) * {HOUR_MS} AS hour_ms,
               count(*) AS visits,
               count(*) FILTER (WHERE {usable}) AS tracks,
               count(*) FILTER (WHERE {usable} AND top_class IN ({_quoted(POSITIVE)})) AS positive,
               count(*) FILTER (WHERE {usable} AND top_class IN ({_quoted(NEGATIVE)})) AS negative,
               sum(valence) FILTER (WHERE {usable}) AS valence_sum,
               sum(valence * valence) FILTER (WHERE {usable}) AS valence_sumsq,
               avg(duration_ms) AS mean_duration_ms
        FROM face_expression
        WHERE kind = 'track_end' AND {where}
        GROUP BY ALL ORDER BY ALL"""  # nosec B608
    frame = _frame(con, sql, params)
    for column in ("visits", "tracks", "positive", "negative"):
        frame[column] = frame[column].astype("int64")
    return frame


def expression_mix(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    where, params = _where(period)
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    return _frame(con, f"""
        SELECT site_id, top_class, count(*) AS tracks FROM face_expression
        WHERE kind = 'track_end' AND coalesce(quality.usable, true) AND {where}
        GROUP BY ALL ORDER BY ALL""", params)  # nosec B608


def camera_hours(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    """Per camera and hour: heartbeats received (0 rows for an hour = the camera said nothing)."""
    where, params = _where(period)
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    return _frame(con, f"""
        SELECT site_id, camera_id, (epoch_ms(event_time) // {HOUR_MS}) * {HOUR_MS} AS hour_ms,
               count(*) AS heartbeats
        FROM camera_heartbeat WHERE {where} GROUP BY ALL ORDER BY ALL""", params)  # nosec B608


def heartbeat_lifetimes(con: duckdb.DuckDBPyConnection, site: str | None = None) -> tuple[pd.DataFrame, int | None]:
    """Each camera's first heartbeat ever (site_id, camera_id, first_ms), and the latest heartbeat of
    any camera: before the first a camera did not exist yet, after the latest the data has not arrived."""
    clause = "WHERE site_id = ?" if site else ""
    params = [site] if site else []
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    first = _frame(con, f"""
        SELECT site_id, camera_id, min(epoch_ms(event_time)) AS first_ms
        FROM camera_heartbeat {clause} GROUP BY ALL""", params)  # nosec B608
    latest = _frame(con, "SELECT max(epoch_ms(event_time)) AS t FROM camera_heartbeat")["t"].iloc[0]
    return first, None if pd.isna(latest) else int(latest)


def cameras(con: duckdb.DuckDBPyConnection, site: str | None = None) -> list[tuple[str, str]]:
    """Every (site, camera) ever heard of, by heartbeat or face."""
    clause = "WHERE site_id = ?" if site else ""
    params = [site, site] if site else []
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    frame = _frame(con, f"""
        SELECT DISTINCT site_id, camera_id FROM (
            SELECT site_id, camera_id FROM camera_heartbeat {clause}
            UNION ALL SELECT site_id, camera_id FROM face_expression {clause}) ORDER BY ALL""", params)  # nosec B608
    return [(str(s), str(c)) for s, c in frame.itertuples(index=False)]


def alarms(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    where, params = _where(period)
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    frame = _frame(con, f"""
        SELECT epoch_ms(event_time) AS time_ms, site_id, camera_id, rule, state, value, threshold, reason
        FROM sentiment_alarm WHERE {where}
        ORDER BY time_ms, site_id, camera_id NULLS FIRST, rule, state""", params)  # nosec B608
    return frame


def data_quality(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, Any]:
    """Events per table, quarantined records, model versions seen."""
    where, params = _where(period)
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    counts = {table: int(_frame(con, f"SELECT count(*) AS n FROM {table} WHERE {where}",  # nosec B608
                                params)["n"].iloc[0])
              for table in EVENT_TABLES}
    try:
        quarantined = int(_frame(con, "SELECT count(*) AS n FROM quarantine")["n"].iloc[0])
    except duckdb.Error:
        quarantined = None  # the connection has no quarantine table: unknown, not zero
    # bandit B608: only constants and '?' placeholders are formatted in; values are bound
    models = _frame(con, f"""
        SELECT model.version AS version, count(*) AS tracks, min(epoch_ms(event_time)) AS first_ms,
               max(epoch_ms(event_time)) AS last_ms
        FROM face_expression WHERE kind = 'track_end' AND {where} GROUP BY ALL ORDER BY first_ms""", params)  # nosec B608
    return {"events": counts, "quarantined": quarantined, "models": models}


def known_sites(con: duckdb.DuckDBPyConnection) -> list[str]:
    frame = _frame(con, """SELECT DISTINCT site_id FROM (SELECT site_id FROM face_expression
                           UNION ALL SELECT site_id FROM camera_heartbeat) ORDER BY 1""")
    return [str(s) for s in frame["site_id"]]


def latest_event_ms(con: duckdb.DuckDBPyConnection) -> int | None:
    frame = _frame(con, "SELECT max(epoch_ms(event_time)) AS t FROM face_expression")
    value = frame["t"].iloc[0]
    return None if pd.isna(value) else int(value)


def register_events(con: duckdb.DuckDBPyConnection, events: Iterable[Mapping[str, Any]],
                    quarantine: Sequence[tuple[str, str]] = ()) -> None:
    """Makes the lake's tables from validated events (the lake's schemas, empty tables included).

    `quarantine` holds (raw record, reason) pairs that did not validate; it is read after `events`
    is exhausted, so a generator may fill it. Events become Arrow in chunks: memory holds columns,
    not a dict per event.
    """
    import pyarrow as pa

    pending: dict[str, list[Mapping[str, Any]]] = {name: [] for name in EVENT_TABLES}
    chunks: dict[str, list[pa.Table]] = {name: [] for name in EVENT_TABLES}
    for event in events:
        name = str(event["schema"])
        pending[name].append(event)
        if len(pending[name]) >= REGISTER_CHUNK:
            chunks[name].append(to_arrow_table(CONTRACTS[name], pending[name]))  # type: ignore[arg-type]
            pending[name] = []
    for name in EVENT_TABLES:
        chunks[name].append(to_arrow_table(CONTRACTS[name], pending[name]))  # type: ignore[arg-type]
        con.register(name, pa.concat_tables(chunks[name]))
    con.register("quarantine", pa.table({"raw": [r for r, _ in quarantine], "reason": [w for _, w in quarantine]},
                                        schema=pa.schema([("raw", pa.string()), ("reason", pa.string())])))
