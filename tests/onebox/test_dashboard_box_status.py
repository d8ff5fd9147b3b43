"""The page never shows a frozen box status as live: a status file the box stopped rewriting (a full
disk, a hung loop, a stopped or killed box) is said to be old, with its age, and why it may be."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onebox.box import Box
from onebox.config import SiteConfig, from_values
from onebox.dashboard.app import create_app
from onebox.dashboard.box_status import STALE_AFTER, freshness, process_alive
from onebox.dashboard.server import DashboardServer, bind, state_for
from onebox.dashboard.state import DashboardState
from tests.onebox.browser import chromium
from tests.onebox.test_supervisor import FakeClock, FakeSpawner

FULL = Path("/dev/full")  # every write to it fails with ENOSPC


def _config(state: Path) -> SiteConfig:
    return from_values({"site": {"id": "cafe", "state_dir": str(state), "name": "Café Central"}},
                       [{"id": "door", "source": "0", "name": "Front door"}])


def _box(state: Path) -> Box:
    """A box whose services run (fake processes) and whose status is written by its own writer."""
    box = Box(_config(state), FakeSpawner(), FakeClock(), jobs_enabled=False)
    box.start()
    box.step()
    box.write_status(force=True)
    return box


def _written(box: Box) -> dict:
    return json.loads(box.layout.status.read_text())


def _seen(box: Box, after_s: float) -> dict | None:
    """What the page's snapshot says of the box's status ``after_s`` seconds after it was written."""
    state = state_for(box.layout.root, None)
    written = _written(box)["updated_ms"]
    state.wall_ms = lambda: written + int(after_s * 1000)
    state.poll()
    verdict: dict | None = state.snapshot()["box"]
    return verdict


def test_the_status_says_how_often_it_is_rewritten_and_a_fresh_one_is_current(tmp_path: Path) -> None:
    box = _box(tmp_path / "s")
    every = _written(box)["every_s"]
    assert every > 0
    fresh = _seen(box, STALE_AFTER * every)
    assert fresh is not None and fresh["verdict"] == "current" and fresh["age_s"] == STALE_AFTER * every


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
def test_a_full_disk_that_stops_the_status_being_rewritten_is_said_and_its_end_too(tmp_path: Path) -> None:
    box = _box(tmp_path / "s")
    before = _written(box)
    temp = box.layout.status.with_suffix(".tmp")
    temp.symlink_to(FULL)  # the disk is full: the box's writes of its status fail for real
    box.step()
    box.write_status(force=True)
    assert _written(box) == before  # the file is the last one written
    every = before["every_s"]
    seen = _seen(box, STALE_AFTER * every + 1)
    assert seen is not None and seen["verdict"] == "stuck"
    assert seen["updated_ms"] == before["updated_ms"] and seen["age_s"] == STALE_AFTER * every + 1
    temp.unlink(missing_ok=True)  # space is back (the failed write took its temp file): the box writes again
    box.write_status(force=True)
    again = state_for(box.layout.root, None)
    again.poll()
    assert again.snapshot()["box"]["verdict"] == "current"


def test_a_box_that_stopped_its_services_is_not_running_and_not_stuck(tmp_path: Path) -> None:
    box = _box(tmp_path / "s")
    box.shutdown(grace_s=0)  # writes its last status: every service stopped
    assert not any(c["state"] in ("running", "backoff") for c in _written(box)["children"])
    seen = _seen(box, 3600)
    assert seen is not None and seen["verdict"] == "stopped"


def test_a_killed_box_is_not_running(tmp_path: Path) -> None:
    """`up` killed with -9: its last status still lists running services, but its process is gone."""
    box = _box(tmp_path / "s")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    status = {**_written(box), "pid": dead.pid}
    assert not process_alive(dead.pid)
    seen = freshness(status, status["updated_ms"] + int(STALE_AFTER * status["every_s"] * 1000) + 1)
    assert seen is not None and seen["verdict"] == "stopped"
    assert freshness({**status, "pid": 1 << 40}, status["updated_ms"] + 10**7)["verdict"] == "stopped"


def test_a_status_without_its_time_or_interval_is_not_judged(tmp_path: Path) -> None:
    status = _written(_box(tmp_path / "s"))
    assert freshness({k: v for k, v in status.items() if k != "updated_ms"}, 10**13) is None
    assert freshness({k: v for k, v in status.items() if k != "every_s"}, 10**13) is None
    assert freshness({**status, "every_s": 0}, 10**13) is None


@given(every=st.floats(0.5, 600), age_ms=st.integers(-10**9, 10**10),
       running=st.booleans(), alive=st.booleans())
def test_old_means_older_than_two_intervals_and_stopped_means_nothing_runs(
        every: float, age_ms: int, running: bool, alive: bool) -> None:
    status = {"updated_ms": 10**12, "every_s": every, "pid": 4242,
              "children": [{"name": "stream", "state": "running" if running else "stopped"}]}
    seen = freshness(status, 10**12 + age_ms, alive=lambda pid: alive)
    assert seen is not None and seen["age_s"] >= 0
    if age_ms <= STALE_AFTER * every * 1000:
        assert seen["verdict"] == "current"
    else:
        assert seen["verdict"] == ("stuck" if running and alive else "stopped")


@contextmanager
def _serving(state: DashboardState) -> Iterator[DashboardServer]:
    server = DashboardServer(create_app(state), bind("127.0.0.1", 0))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
def test_the_page_says_how_old_the_box_status_is_and_is_not_live(tmp_path: Path) -> None:
    """In a real browser: the box's own status, then a full disk: six minutes later the page names the
    time of the last status and its age, and the pill is not "live"; space back, it is live again."""
    from playwright.sync_api import expect

    box = _box(tmp_path / "s")
    written = _written(box)["updated_ms"]
    box.layout.status.with_suffix(".tmp").symlink_to(FULL)
    box.write_status(force=True)
    state = state_for(box.layout.root, None, timezone="Europe/Vienna")
    late = [0]  # how far the box's clock has gone on since the page's first look
    state.wall_ms = lambda: int(time.time() * 1000) + late[0]
    at = dt.datetime.fromtimestamp(written / 1000, ZoneInfo("Europe/Vienna"))
    with _serving(state) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")  # a 24-hour clock
        page.goto(server.url)
        page.wait_for_selector("#connection.live", timeout=5000)
        assert page.locator("#box-stale").is_hidden()
        late[0] = 6 * 60_000
        expect(page.locator("#box-stale")).to_be_visible(timeout=8000)
        said = page.inner_text("#box-stale")
        assert f"box status from {at:%H:%M}, 6 min ago: the box may be stuck or its disk full" in said, said
        assert page.inner_text("#connection") != "live"
        assert "live" not in (page.get_attribute("#connection", "class") or "").split()
        box.layout.status.with_suffix(".tmp").unlink(missing_ok=True)
        box.write_status(force=True)
        late[0] = 0
        page.wait_for_selector("#connection.live", timeout=8000)
        assert page.locator("#box-stale").is_hidden()
