"""The page says where an alarm is by the names in the site file (the box's status carries them), in
the reason's own words (`stream.alarm_words.named`), over the alarms the real stream runner writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from locallog import LocalLog
from onebox.dashboard.server import state_for
from stream.alarm_words import named, place
from stream.embedded import ALARMS, EmbeddedRunner, RunnerConfig
from stream.jsonl import dumps
from tests.onebox.browser import chromium
from tests.onebox.test_dashboard_page import serving
from tests.stream.helpers import T0, beat, face

NAMED = {"site": "cafe", "site_name": "Café Central", "cameras": [{"id": "door", "name": "Front door"}],
         "children": []}


def _unhappy_door(root: Path) -> list[dict[str, Any]]:
    """Ten happy minutes at the door, then thirty unhappy ones, windowed by the real stream runner:
    the site's and the door's low_sentiment alarms, and the door's camera_silent one (it never beats again)."""
    faces = [face(T0 + s * 1_000, f"t{s // 20}", camera="door", site="cafe", top="sad" if s > 600 else "happy",
                  n=s) for s in range(2_400)]
    LocalLog(root / "log").append([dumps(beat(T0, camera="door", site="cafe"))] + [dumps(e) for e in faces])
    runner = EmbeddedRunner(LocalLog(root / "log"), root / "stream", RunnerConfig(check_time=False))
    runner.drain(flush=True)
    runner.close()
    return [json.loads(line) for line in (root / "stream" / ALARMS).read_text().splitlines()]


def _snapshot(root: Path, status: dict[str, Any]) -> dict[str, Any]:
    (root / "run").mkdir(parents=True, exist_ok=True)
    (root / "run" / "status.json").write_text(json.dumps(status))
    state = state_for(root, None)
    state.poll()
    return state.snapshot()


def test_every_alarm_on_the_page_names_the_site_and_camera_as_people_do(tmp_path: Path) -> None:
    written = _unhappy_door(tmp_path)
    assert {(a["rule"], a["camera_id"]) for a in written} >= {("low_sentiment", None), ("low_sentiment", "door"),
                                                              ("camera_silent", "door")}
    snapshot = _snapshot(tmp_path, NAMED)
    shown = snapshot["alarms"] + snapshot["open_alarms"] + [c["down"] for c in snapshot["cameras"] if c["down"]]
    assert len(snapshot["alarms"]) == len(written) and shown
    for alarm in shown:
        assert "camera door" not in alarm["reason"] and "site cafe" not in alarm["reason"], alarm["reason"]
        assert ("Front door" if alarm["camera"] else "Café Central") in alarm["reason"], alarm["reason"]
        assert alarm["camera"] in (None, "door")  # the ids stay for the page's keys
    by_time = {(a["event_time_ms"], a["rule"], a["camera_id"]): a["reason"] for a in written}
    for alarm in snapshot["alarms"]:
        reason = by_time[(alarm["time_ms"], alarm["rule"], alarm["camera"])]
        expected = named(reason, "cafe", alarm["camera"], "Café Central", "Front door" if alarm["camera"] else "")
        assert alarm["reason"] == expected


def test_without_names_the_reasons_are_the_stream_runners_own(tmp_path: Path) -> None:
    written = _unhappy_door(tmp_path)
    snapshot = _snapshot(tmp_path, {"site": "cafe", "cameras": [{"id": "door"}], "children": []})
    assert [a["reason"] for a in snapshot["alarms"]] == [a["reason"] for a in reversed(written)]
    assert any(place("cafe", "door") in a["reason"] for a in snapshot["alarms"])


def test_the_page_shows_the_reasons_with_the_names(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serving(tmp_path, NAMED) as server:
        _unhappy_door(tmp_path)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(server.url)
            page.wait_for_selector("#connection.live", timeout=5000)
            expect(page.locator("#open-alarms")).to_contain_text("customers at Front door have looked unhappy",
                                                                 timeout=5000)
            alarms = page.inner_text("#open-alarms") + page.inner_text("#alarm-history")
            cameras = page.inner_text("#cameras")
    assert "customers at Café Central have looked unhappy" in alarms
    assert "Front door has sent no sign of life" in cameras
    assert "camera door" not in alarms + cameras and "site cafe" not in alarms
