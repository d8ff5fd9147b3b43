"""The dashboard in a real browser: loads cleanly, shows a new window within 3 s, lists a new alarm."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from onebox.dashboard.server import DashboardServer, open_dashboard
from tests.onebox.browser import chromium
from tests.onebox.events import alarm, window


@contextmanager
def serving(root: Path, status: dict) -> Iterator[DashboardServer]:
    """The dashboard over a state folder whose box status is ``status`` (what `moodlens up` writes)."""
    (root / "stream").mkdir(exist_ok=True)
    (root / "run").mkdir(exist_ok=True)
    (root / "run" / "status.json").write_text(json.dumps(status))
    server = open_dashboard(root, "127.0.0.1", 0, "")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DashboardServer, Path]]:
    with serving(tmp_path, {
        "site": "cafe", "cameras": [{"id": "door", "name": "Front door"}],
        "children": [{"name": "edge-door", "kind": "edge", "state": "backoff", "pid": None, "restarts": 2,
                      "last_exit": 1, "uptime_s": None, "restart_in_s": 3.5}]}) as server:
        yield server, tmp_path


def _append(path: Path, document: dict) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(document) + "\n")


def test_page_shows_new_windows_and_alarms_live(served: tuple[DashboardServer, Path]) -> None:
    server, root = served
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.resource_type))
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        assert "restarting in 3.5s" in page.inner_text("#children")  # a crashed child is shown

        _append(root / "stream" / "windows.jsonl", window(None, 5, 0.37, tracks=8))
        started = time.monotonic()
        expect(page.locator("#site-scores")).to_contain_text("+0.37", timeout=3000)
        assert time.monotonic() - started < 3.0

        _append(root / "stream" / "windows.jsonl", window("door", 15, None, tracks=2))
        expect(page.locator("#cameras")).to_contain_text("too few customers", timeout=3000)
        _append(root / "stream" / "alarms.jsonl", alarm("door", "ALARM"))
        expect(page.locator("#open-alarms")).to_contain_text("low sentiment", timeout=3000)
        assert "door" in page.inner_text("#alarm-history")
        _append(root / "stream" / "alarms.jsonl", alarm("door", "OK"))
        expect(page.locator("#open-alarms")).to_contain_text("all clear", timeout=3000)
        assert page.locator("img").count() == 0
        assert "image" not in requests
        assert errors == []


def test_a_malformed_heartbeat_in_the_log_leaves_the_page_working(served: tuple[DashboardServer, Path]) -> None:
    from playwright.sync_api import expect

    from tests.onebox.test_eventlog import bad_heartbeat, edge_append, edge_heartbeat, raw_append

    server, root = served
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        edge_append(root / "log", [edge_heartbeat("door")])
        expect(page.locator("#cameras")).to_contain_text("frames/s", timeout=3000)
        raw_append(root / "log", [bad_heartbeat("door")])  # text fps: the page would call toFixed on it
        _append(root / "stream" / "windows.jsonl", window(None, 5, 0.21, tracks=8))
        expect(page.locator("#site-scores")).to_contain_text("+0.21", timeout=3000)  # still live
        assert errors == []


def test_the_page_says_live_only_once_a_snapshot_is_on_screen(
        served: tuple[DashboardServer, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """An opened stream whose first snapshot is late must not read "live" over an empty page."""
    from onebox.dashboard.app import Hub

    updates = Hub.updates

    async def late_first_snapshot(self: Hub, request: Request) -> AsyncIterator[str]:
        await asyncio.sleep(1.5)  # the stream is open (headers sent); the data is not yet
        async for chunk in updates(self, request):
            yield chunk

    monkeypatch.setattr(Hub, "updates", late_first_snapshot)
    server, _ = served
    with chromium() as browser:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_timeout(700)
        assert page.inner_text("#connection") == "connecting"
        page.wait_for_selector("#connection.live", timeout=5000)
        assert "restarting in 3.5s" in page.inner_text("#children")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_curves_axis_labels_are_readable_on_a_phone_and_a_desktop(
        served: tuple[DashboardServer, Path], width: int) -> None:
    server, _ = served
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 844})
        page.goto(server.url)
        page.wait_for_selector("#curve svg text")
        heights = page.eval_on_selector_all("#curve svg text", "ts => ts.map((t) => t.getBoundingClientRect().height)")
        chart = page.eval_on_selector("#curve svg", "s => s.getBoundingClientRect().width")
    assert len(heights) == 10  # five net score lines, five hours
    assert min(heights) >= 11, heights  # drawn at 13 px: a chart shrunk to fit a phone must not shrink its words
    assert chart <= width


def test_how_long_each_service_has_been_up_reads_in_minutes_hours_and_days(tmp_path: Path) -> None:
    children = [{"name": f"svc-{i}", "kind": "edge", "state": "running", "pid": 10 + i, "restarts": 0,
                 "last_exit": None, "uptime_s": up, "restart_in_s": None, "reason": None}
                for i, up in enumerate([42.4, 4000.0, 93_600.0, 400_000.0])]
    with serving(tmp_path, {"site": "cafe", "cameras": [], "children": children}) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(server.url)
        page.wait_for_selector("#children tbody tr")
        shown = page.eval_on_selector_all("#children tbody tr", "rs => rs.map((r) => r.cells[3].textContent)")
    assert shown == ["42 s", "67 min", "26 h", "4.6 days"]


@pytest.mark.parametrize(("lateness_s", "said"), [(300, "5 minutes"), (90, "90 s"), (None, "2 minutes")])
def test_an_empty_window_says_when_it_closes_by_the_sites_lateness(
        tmp_path: Path, lateness_s: int | None, said: str) -> None:
    status: dict[str, Any] = {"site": "cafe", "cameras": [{"id": "door", "name": "Front door"}], "children": []}
    if lateness_s is not None:  # a status file without it (a dashboard beside no box): the stream's default
        status["lateness_s"] = lateness_s
    with serving(tmp_path, status) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        text = page.inner_text("#site-scores")
    assert f"a window shows once it closes, {said} after its last minute" in text


def test_the_header_names_the_site_as_people_know_it(tmp_path: Path) -> None:
    status = {"site": "cafe-1", "site_name": "Café Central", "cameras": [{"id": "door", "name": "Front door"}],
              "children": []}
    with serving(tmp_path, status) as server, chromium() as browser:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        assert page.inner_text("#site-name") == "Café Central"
        assert page.get_attribute("#site-name", "title") == "site id cafe-1"
        assert page.title() == "moodlens Café Central"


def test_services_name_the_camera_of_each_edge_and_an_empty_history_says_so(tmp_path: Path) -> None:
    children = [{"name": name, "kind": "edge", "state": "running", "pid": 10, "restarts": 0, "last_exit": None,
                 "uptime_s": 60.0, "restart_in_s": None, "reason": None}
                for name in ("edge-door", "edge-yard", "stream")]
    status = {"site": "cafe", "cameras": [{"id": "door", "name": "Front door"}, {"id": "yard", "name": "yard"}],
              "children": children}
    with serving(tmp_path, status) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(server.url)
        page.wait_for_selector("#children tbody tr")
        shown = page.eval_on_selector_all("#children tbody tr", "rs => rs.map((r) => r.cells[0].textContent)")
        history = page.inner_text("#alarm-history")
    assert shown == ["edge-door (Front door)", "edge-yard", "stream"]  # a camera without a name: its id says it
    assert history == "no alarm yet"


def test_a_window_without_customers_says_nobody_was_seen_not_too_few(served: tuple[DashboardServer, Path]) -> None:
    from playwright.sync_api import expect

    server, root = served
    _append(root / "stream" / "windows.jsonl", window("door", 5, None, tracks=0))
    _append(root / "stream" / "windows.jsonl", window("door", 15, None, tracks=2))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        door = page.locator('#cameras [data-camera="door"]')
        expect(door.locator('[data-minutes="15"]')).to_contain_text("too few customers", timeout=3000)
        assert "no customers" in door.locator('[data-minutes="5"]').inner_text()
        assert "too few" not in door.locator('[data-minutes="5"]').inner_text()


def test_a_page_over_no_box_says_it_has_no_service_status(tmp_path: Path) -> None:
    with serving(tmp_path, {"site": "cafe", "cameras": []}) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        assert "no service status" in page.inner_text("#children tbody")
