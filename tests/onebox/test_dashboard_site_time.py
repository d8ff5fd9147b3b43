"""The dashboard speaks the site's clock, not the browser's: "today" starts at the site's local
midnight (23 or 25 hours on a clock change) and every time on the page is the site's."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from onebox.dashboard.server import open_dashboard, state_for
from onebox.dashboard.state import DashboardState
from tests.onebox.browser import chromium
from tests.onebox.events import alarm, window

SITE_ZONE = "Pacific/Kiritimati"  # UTC+14
BROWSER_ZONE = "America/Los_Angeles"  # UTC-8 or -7: the two clocks are 21 or 22 hours apart, the dates differ


@pytest.mark.parametrize(("day", "hours"), [(dt.date(2026, 3, 29), 23), (dt.date(2026, 7, 1), 24),
                                            (dt.date(2026, 10, 25), 25)])
def test_today_is_the_sites_local_day_of_23_24_or_25_hours(tmp_path: Path, day: dt.date, hours: int) -> None:
    state = DashboardState(tmp_path, timezone="Europe/Berlin", today=lambda: day)
    bounds = state.snapshot()["day"]
    start = dt.datetime.fromtimestamp(bounds["start_ms"] / 1000, ZoneInfo("Europe/Berlin"))
    assert (start.date(), start.hour) == (day, 0)
    assert (bounds["end_ms"] - bounds["start_ms"]) / 3_600_000 == hours


def test_the_zone_comes_from_the_boxs_status_when_the_dashboard_has_no_site_file(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_text(json.dumps({"site": "cafe", "timezone": SITE_ZONE}))
    state = state_for(tmp_path, None)
    state.poll()
    snapshot = state.snapshot()
    assert snapshot["timezone"] == SITE_ZONE
    start = dt.datetime.fromtimestamp(snapshot["day"]["start_ms"] / 1000, ZoneInfo(SITE_ZONE))
    assert start.time() == dt.time(0) and start.date() == dt.datetime.now(ZoneInfo(SITE_ZONE)).date()
    assert state_for(tmp_path, None, timezone="Europe/Berlin").zone_name() == "Europe/Berlin"  # the site file wins


def test_the_page_shows_the_sites_day_and_clock_in_a_browser_in_another_zone(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    (tmp_path / "stream").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_text(json.dumps({"site": "cafe", "timezone": SITE_ZONE,
                                                              "cameras": [{"id": "door", "name": "Front door"}]}))
    server = open_dashboard(tmp_path, "127.0.0.1", 0, "")
    server.start()
    try:
        with chromium() as browser:
            context = browser.new_context(timezone_id=BROWSER_ZONE, locale="en-GB")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url)
            page.wait_for_selector("#connection.live", timeout=5000)
            assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
            expect(page.locator("#zone")).to_contain_text(SITE_ZONE, timeout=3000)
            expect(page.locator("#curve-h")).to_contain_text(f"midnight {SITE_ZONE}")

            now_ms = int(time.time() // 60 * 60_000)
            with (tmp_path / "stream" / "windows.jsonl").open("a") as handle:
                handle.write(json.dumps(window(None, 15, 0.4, tracks=8, end_ms=now_ms)) + "\n")
            with (tmp_path / "stream" / "alarms.jsonl").open("a") as handle:
                handle.write(json.dumps(alarm("door", "ALARM", time_ms=now_ms)) + "\n")
            expect(page.locator("#open-alarms")).to_contain_text("low sentiment", timeout=3000)
            site_clock = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(SITE_ZONE))
            browser_clock = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(BROWSER_ZONE))
            shown = page.inner_text("#open-alarms")
            assert site_clock.strftime("%H:%M") in shown and browser_clock.strftime("%H:%M") not in shown
            assert str(site_clock.day) in shown

            # the curve's point sits where the site's day puts it: from the site's midnight, not the browser's
            expect(page.locator("#curve circle")).to_have_count(1, timeout=3000)
            cx = float(page.locator("#curve circle").get_attribute("cx") or "nan")
            midnight = site_clock.replace(hour=0, minute=0, second=0, microsecond=0)
            length_ms = ((midnight + dt.timedelta(days=1)).timestamp() - midnight.timestamp()) * 1000
            width, pad = 720, 34
            expected = pad + (now_ms - midnight.timestamp() * 1000) / length_ms * (width - 2 * pad)
            assert cx == pytest.approx(expected, abs=0.5)
            assert errors == []
    finally:
        server.stop()
