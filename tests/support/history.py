"""Synthetic histories and DuckDB connections carrying the lake's tables, built once per test session."""

from __future__ import annotations

from functools import cache

import duckdb

from batch.analytics.source import register_events
from batch.analytics.synthetic import History, HistoryConfig, generate_history

# Four weeks at three sites: enough for a forecast with a backtest and for the drivers' intervals.
FOUR_WEEKS = HistoryConfig(sites=3, days=28, seed=1, heartbeat_minutes=15)  # hourly analytics need no more


@cache
def history(config: HistoryConfig = FOUR_WEEKS) -> History:
    return generate_history(config)


@cache
def lake(config: HistoryConfig = FOUR_WEEKS) -> duckdb.DuckDBPyConnection:
    """The lake's tables (lake Arrow schemas) registered from the history's events."""
    con = duckdb.connect()
    register_events(con, history(config).events)
    return con
