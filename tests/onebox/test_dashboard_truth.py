"""The page tells the truth at a glance: a failed camera with its reason, a site being waited for,
alarm history with dates and camera names, stale values marked, and the baseline curve read from a
checkpoint the real stream host wrote."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import pytest

from locallog import LocalLog
from onebox.camera_watch import CAMERA_ALARMS
from onebox.dashboard.server import open_dashboard, state_for
from stream.alarms import hour_of_week
from stream.embedded import EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.jsonl import dumps, iter_jsonl
from tests.onebox.browser import chromium
from tests.onebox.events import alarm, heartbeat, window
from tests.stream.helpers import face


def test_the_baseline_curve_comes_from_a_checkpoint_the_real_host_wrote(tmp_path: Path) -> None:
    """Three weeks of the same weekday morning (the baseline is ready after three distinct days of an
    hour of the week), windowed by the real host; the page reads what it committed, beside its lock."""
    today = dt.date.today()
    log = LocalLog(tmp_path / "log")
    for week in (3, 2, 1):
        morning = dt.datetime.combine(today - dt.timedelta(weeks=week), dt.time(9))
        start = int(morning.timestamp() * 1000) // 60_000 * 60_000
        log.append([dumps(face(start + s * 1000, f"w{week}t{s // 20}", site="cafe", top="happy" if s % 4 else "sad",
                               n=week * 10_000 + s)) for s in range(0, 3 * 3600, 10)])
    config = RunnerConfig(engine=EngineConfig(window_minutes=(5, 15, 60)), check_time=False)
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "stream", config)
    runner.drain(flush=True)
    saved = json.loads((tmp_path / "stream" / "checkpoint.json").read_text())
    assert "alarms" not in saved and saved["sites"]["cafe"]["alarms"]  # the shape the host writes
    state = state_for(tmp_path, None)
    state.poll()  # while the host still holds its folder's lock: the page must not need it
    runner.close()
    baseline = state.snapshot()["baseline"]
    hours = [dt.datetime.fromtimestamp(p[0] / 1000).hour for p in baseline]
    assert {9, 10, 11} <= set(hours)
    by_hour: dict[int, list[float]] = {}  # what the engine saw: its sufficient 15-minute site windows
    for w in iter_jsonl(tmp_path / "stream" / "windows.jsonl"):
        if w["camera_id"] is None and w["window_minutes"] == 15 and not w["insufficient_data"]:
            by_hour.setdefault(hour_of_week(w["window_end_ms"] - 1), []).append(w["net_score"])
    for point in baseline:
        scores = by_hour[hour_of_week(point[0])]
        # the usual level (per day from the customers, then the days' median) is the windows' own level
        assert point[1] == pytest.approx(statistics.median(scores), abs=0.02)


def test_the_page_shows_a_failed_camera_a_silent_site_and_dated_history(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    (tmp_path / "stream").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_text(json.dumps({
        "site": "cafe", "cameras": [{"id": "door", "name": "Front door"}, {"id": "till", "name": "Till"}],
        "children": [{"name": "edge-door", "kind": "edge", "state": "failed", "pid": None, "restarts": 0,
                      "last_exit": 2, "uptime_s": None, "restart_in_s": None,
                      "reason": "source 'cams/door.mp4' is not a file, folder, camera index, stream URL or 'awscam'"},
                     {"name": "edge-till", "kind": "edge", "state": "running", "pid": 4242, "restarts": 0,
                      "last_exit": None, "uptime_s": 600.0, "restart_in_s": None, "reason": None},
                     {"name": "stream", "kind": "stream", "state": "running", "pid": 4243, "restarts": 0,
                      "last_exit": None, "uptime_s": 600.0, "restart_in_s": None, "reason": None}]}))
    down = alarm("door", "ALARM", rule="camera_silent")
    down["reason"] = ("camera Front door is not working: it has sent nothing since the box started; its edge stopped "
                      "(exit 2) and is not restarted: fix the site file: source 'cams/door.mp4' is not a file")
    (tmp_path / "run" / CAMERA_ALARMS).write_text(json.dumps(down) + "\n")
    old = int(time.time() * 1000) // 60_000 * 60_000 - 3 * 3_600_000
    silent = alarm(None, "ALARM", rule="site_unreachable")
    silent.update(value=12.0, reason="no event from site cafe for 12.0 minutes")
    (tmp_path / "stream" / "alarms.jsonl").write_text(json.dumps(silent) + "\n")
    (tmp_path / "stream" / "windows.jsonl").write_text(
        json.dumps(window("till", 15, 0.2, tracks=9, end_ms=old)) + "\n" + json.dumps(window(None, 15, 0.2, tracks=9,
                                                                                             end_ms=old)) + "\n")
    stale_beat = heartbeat("till")
    stale_beat["event_time_ms"] -= 11 * 3_600_000
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(stale_beat).encode()])
    log.close()
    server = open_dashboard(tmp_path, "127.0.0.1", 0, "")
    server.start()
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url)
            page.wait_for_selector("#connection.live", timeout=5000)
            door = page.locator('[data-camera="door"]')
            expect(door).to_contain_text("NOT WORKING since", timeout=5000)
            expect(door).to_contain_text("is not a file")
            expect(page.locator("#open-alarms")).to_contain_text("camera not working · Front door")
            expect(page.locator("#waiting")).to_contain_text("Waiting for this site since")
            expect(page.locator("#children")).to_contain_text("failed (exit 2), not restarted: source")
            till = page.locator('[data-camera="till"]')
            expect(till).to_contain_text("stale: heartbeat 11 h ago")
            expect(till).to_contain_text("stale: window to")
            history = page.inner_text("#alarm-history")
            assert "site unreachable · whole site" in history
            today = dt.date.today()
            assert str(today.day) in history  # dated, not only a time of day
            assert errors == []
            shot = tmp_path / "dashboard-failed-camera.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if target := os.environ.get("MOODLENS_SCREENSHOT_DIR"):
                shutil.copy(shot, Path(target) / shot.name)
    finally:
        server.stop()
