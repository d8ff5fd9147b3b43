"""The box's console lines: at the site's clock, whatever the machine's own zone is."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from onebox.logs import Console

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("moodlens.up", logging.INFO, __file__, 1, "compact scheduled", None, None)
    record.created = created
    return record


@given(instant=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                            timezones=st.just(dt.UTC)),
       zone=st.sampled_from(ZONES))
def test_a_console_line_starts_with_the_sites_wall_clock(instant: dt.datetime, zone: str) -> None:
    line = Console(zone).format(_record(instant.timestamp()))
    assert line.split()[0] == instant.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S")
    assert line.endswith("up compact scheduled")


def test_without_a_zone_the_console_keeps_the_machines_clock() -> None:
    instant = dt.datetime(2026, 12, 7, 21, 59, 47, tzinfo=dt.UTC)
    line = Console().format(_record(instant.timestamp()))
    assert line.split()[0] == dt.datetime.fromtimestamp(instant.timestamp()).strftime("%H:%M:%S")
