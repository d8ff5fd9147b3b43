"""The box's console lines: at the site's clock, whatever the machine's own zone is."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from onebox.logs import LOG_FILE, Console, setup, teardown

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


def test_a_log_file_on_a_full_disk_is_said_once_and_its_return_once(tmp_path, capsys) -> None:
    """The log file's writes fail with the real ENOSPC (/dev/full) for 50 lines: stderr says so once, not
    logging's traceback per line; the console keeps every line; once the disk has room it says so once."""
    handler = setup(tmp_path, console=True)
    log = logging.getLogger("moodlens.up")
    try:
        healthy = handler.stream
        handler.stream = open("/dev/full", "w", encoding="utf-8")  # noqa: SIM115 (the handler closes it)
        for n in range(50):
            log.info("line %d", n)
        with contextlib.suppress(OSError):  # what it still buffers cannot be written either
            handler.stream.close()
        handler.stream = healthy
        log.info("room again")
        log.info("and after")
    finally:
        teardown()
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    assert err.count("cannot write the log file") == 1 and "No space left on device" in err
    assert err.count("writing the log file") == 1
    assert all(f"line {n}" in err for n in range(50))  # the console showed them all
    kept = (tmp_path / LOG_FILE).read_text()
    assert "room again" in kept and "and after" in kept
