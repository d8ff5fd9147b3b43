"""A camera that does not work is an alarm: configured cameras are watched from the box's start, in
wall-clock time, and the alarm carries what the edge said."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from onebox.box import Box
from onebox.camera_watch import CAMERA_ALARMS, CameraWatch, EdgeReport
from onebox.children import edge_spec
from onebox.config import from_values
from onebox.layout import Layout
from onebox.processes import RealClock, SubprocessSpawner
from stream.jsonl import iter_jsonl

T = 1_796_000_000_000
MIN = 60_000


def watch() -> CameraWatch:
    return CameraWatch("cafe", {"door": "Front door", "till": "Till"}, 5, T)


def test_a_camera_that_never_sends_raises_after_silent_minutes_once_and_clears_with_its_first_heartbeat() -> None:
    w = watch()
    w.beat("till", T + 10_000)
    running = {"door": EdgeReport("running"), "till": EdgeReport("running")}
    assert w.check(T + 5 * MIN, running) == []
    raised = w.check(T + 5 * MIN + 1, running)
    assert [(a["camera_id"], a["state"], a["rule"]) for a in raised] == [("door", "ALARM", "camera_silent")]
    assert "Front door is not working: it has sent nothing since the box started" in raised[0]["reason"]
    assert [a for a in w.check(T + 60 * MIN, running) if a["camera_id"] == "door"] == []  # raised once
    w.beat("door", T + 62 * MIN)
    cleared = [a for a in w.check(T + 62 * MIN, running) if a["camera_id"] == "door"]
    assert [(a["state"], a["reason"]) for a in cleared] == [("OK", "camera Front door sends heartbeats again")]


def test_a_camera_whose_heartbeats_stop_raises_with_the_edges_reason() -> None:
    w = watch()
    w.beat("door", T + MIN)
    w.beat("till", T + 30 * MIN)
    edges = {"door": EdgeReport("backoff", 75, "camera 0: lost after 10 frames"), "till": EdgeReport("running")}
    raised = w.check(T + 6 * MIN + 1, edges)
    assert [a["camera_id"] for a in raised] == ["door"]
    assert "no heartbeat for 5.0 minutes" in raised[0]["reason"]
    assert "keeps failing (exit 75)" in raised[0]["reason"] and "lost after 10 frames" in raised[0]["reason"]


def test_an_edge_that_gave_up_raises_at_once_and_a_finished_recording_raises_nothing() -> None:
    w = watch()
    edges = {"door": EdgeReport("failed", 2, "source 'door.mp4' is not a file"), "till": EdgeReport("exited", 0)}
    raised = w.check(T + 1000, edges)
    assert [(a["camera_id"], a["state"]) for a in raised] == [("door", "ALARM")]
    assert "not restarted: fix the site file: source 'door.mp4' is not a file" in raised[0]["reason"]
    assert w.check(T + 60 * MIN, edges) == []


def test_a_missing_camera_file_is_one_error_and_one_alarm_with_its_reason_from_a_real_edge(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`moodlens up`'s box with a real edge process whose file does not exist."""
    missing = tmp_path / "door.mp4"
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path / "s")}},
                         [{"id": "door", "source": str(missing), "name": "Front door"}])
    layout = Layout(config.state_dir)
    box = Box(config, SubprocessSpawner(), RealClock(), jobs_enabled=False,
              specs=[edge_spec(config, config.cameras[0], layout)])  # only the edge matters here
    box.start()
    started = time.monotonic()
    alarms: list[dict] = []
    with caplog.at_level(logging.INFO):
        while time.monotonic() - started < 120 and not alarms:
            box.step()
            alarms = list(iter_jsonl(box.layout.run / CAMERA_ALARMS))
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        for _ in range(10):  # would a restart happen?
            box.step()
            time.sleep(0.2)
    box.shutdown(grace_s=5)
    assert [(a["camera_id"], a["state"]) for a in alarms] == [("door", "ALARM")]
    assert "is not a file" in alarms[0]["reason"] and "exit 2" in alarms[0]["reason"]
    edge = box.supervisor.status["edge-door"]
    assert edge.state in ("failed", "stopped") and edge.restarts == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("is not a file" in r.getMessage() for r in errors)
    status = json.loads(box.layout.status.read_text())
    assert any("is not a file" in (c.get("reason") or "") for c in status["children"])
    print(f"camera with a missing file: alarm after {elapsed:.1f} s")


def test_a_restarted_box_does_not_raise_a_standing_alarm_again_and_clears_it_with_the_next_heartbeat(
        tmp_path: Path) -> None:
    first = watch()
    raised = first.check(T + 6 * MIN, {})
    path = tmp_path / CAMERA_ALARMS
    path.write_text("".join(json.dumps(a) + "\n" for a in raised) + '{"cut by a cra')
    again = CameraWatch("cafe", {"door": "Front door", "till": "Till"}, 5, T + 60 * MIN)
    again.restore(path)
    assert again.check(T + 70 * MIN, {}) == []  # still down: nothing new to say
    again.beat("door", T + 71 * MIN)
    assert [(a["camera_id"], a["state"]) for a in again.check(T + 71 * MIN, {})] == [("door", "OK")]
