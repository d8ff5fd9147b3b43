"""`moodlens demo` runs the whole embedded pipeline over the bundled clips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from moodlens.cli import main
from moodlens.locallog import LocalLog
from schemas.validation import validate_event


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("demo") / "state"
    assert main(["demo", "--state", str(state)]) == 0
    return state


def test_every_published_event_is_valid_and_one_track_per_visitor(demo_state: Path) -> None:
    state = demo_state
    events = [json.loads(p) for _, p in LocalLog(state / "log").read(0, 10_000)]
    assert events and all(validate_event(e) == [] for e in events)
    heartbeats = [e for e in events if e["schema"] == "camera_heartbeat"]
    assert {e["camera_id"] for e in heartbeats} == {"cam-1", "cam-2", "cam-3", "cam-4"}
    faces = [e for e in events if e["schema"] == "face_expression"]
    ends = [e for e in faces if e["kind"] == "track_end"]
    # Each clip shows one person: one visit per camera, whatever the frame count.
    assert sorted(e["camera_id"] for e in ends) == ["cam-1", "cam-2", "cam-3", "cam-4"]
    updates = [e for e in faces if e["kind"] == "track_update" and e["camera_id"] == "cam-1"]
    assert 18 <= len(updates) <= 21  # ~20 s of video, one update a second, not 472 frames


def test_stream_windows_count_customers_not_frames(demo_state: Path) -> None:
    state = demo_state
    windows = [json.loads(line) for line in (state / "stream" / "windows.jsonl").read_text().splitlines()]
    site_5m = [w for w in windows if w["camera_id"] is None and w["window_minutes"] == 5 and w["tracks"]]
    assert site_5m and all(w["tracks"] == 4 for w in site_5m)
    assert all(validate_event(w) == [] for w in windows)
    assert (state / "stream" / "deadletter.jsonl").read_text() == ""


def test_cameras_that_stop_sending_heartbeats_raise_silent_alarms(demo_state: Path) -> None:
    alarms = [json.loads(line) for line in (demo_state / "stream" / "alarms.jsonl").read_text().splitlines()]
    silent = {a["camera_id"] for a in alarms if a["rule"] == "camera_silent" and a["state"] == "ALARM"}
    assert silent == {"cam-1", "cam-2", "cam-3", "cam-4"}


def test_annotated_video_is_written_locally(demo_state: Path) -> None:
    state = demo_state
    video = cv2.VideoCapture(str(state / "annotated_WolfgangLanger_Pexels.mp4"))
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 472
    video.release()


def test_missing_clips_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--videos", str(tmp_path), "--state", str(tmp_path / "s")]) == 2
    assert "sample clips missing" in capsys.readouterr().err
