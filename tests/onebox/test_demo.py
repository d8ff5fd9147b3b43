"""`moodlens demo` runs any clips through `moodlens up`'s machinery and ends at the end of the input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from locallog import LocalLog
from moodlens.cli import main
from schemas.validation import validate_event

REPO_VIDEO = Path(__file__).resolve().parents[2] / "data" / "video"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    clips = tmp_path_factory.mktemp("clips")
    # Any names, not only the bundled four: a space and another extension.
    (clips / "front door.mp4").symlink_to(REPO_VIDEO / "single_face.mp4")
    (clips / "terrace.mov").symlink_to(REPO_VIDEO / "noface_face.mov")
    (clips / "notes.txt").write_text("not a clip")
    state = tmp_path_factory.mktemp("demo") / "state"
    out = tmp_path_factory.mktemp("out") / "stdout.txt"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["demo", "--videos", str(clips), "--state", str(state), "--port", "0",
                     "--history-days", "2"]) == 0
    out.write_text(buffer.getvalue())
    return state, buffer.getvalue()


def test_each_clip_is_a_camera_with_one_visit_and_valid_events(demo_run: tuple[Path, str]) -> None:
    state, _ = demo_run
    events = [json.loads(p) for _, p in LocalLog(state / "log").read(0, 10_000)]
    assert events and all(validate_event(e) == [] for e in events)
    assert {e["camera_id"] for e in events if e["schema"] == "camera_heartbeat"} == {"cam-1", "cam-2"}
    ends = [e for e in events if e.get("kind") == "track_end"]
    assert sorted(e["camera_id"] for e in ends) == ["cam-1", "cam-2"]  # one person per clip, one visit


def test_windows_end_with_the_input_without_an_hour_of_empty_ones_or_silent_alarms(demo_run: tuple[Path, str]) -> None:
    state, _ = demo_run
    events = [json.loads(p) for _, p in LocalLog(state / "log").read(0, 10_000)]
    last_minute_end = (max(e["event_time_ms"] for e in events) // 60_000 + 1) * 60_000
    windows = [json.loads(line) for line in (state / "stream" / "windows.jsonl").read_text().splitlines()]
    assert windows and all(w["window_end_ms"] <= last_minute_end for w in windows)
    assert all(w["tracks"] > 0 for w in windows if w["window_end_ms"] == last_minute_end)
    site_hour = [w for w in windows if w["camera_id"] is None and w["window_minutes"] == 60
                 and w["window_end_ms"] == last_minute_end]
    assert len(site_hour) == 1 and site_hour[0]["tracks"] == 2
    alarms = (state / "stream" / "alarms.jsonl").read_text()
    assert "camera_silent" not in alarms


def test_the_summary_speaks_to_a_person(demo_run: tuple[Path, str]) -> None:
    state, out = demo_run
    assert "2 cameras (front door.mp4, terrace.mov)" in out
    assert "visits (customers tracked): 2" in out
    assert "the site's net score: " in out and "95% interval" in out
    assert "alarms: 0 raised, 0 cleared" in out
    assert "moodlens dashboard --state" in out
    assert len(out.splitlines()) < 40  # not hundreds of window lines
    assert "synthetic history of 2 more sites over 2 days" in out
    table = out.split("sentiment_by_hour_site):")[1]
    assert all(site in table for site in ("cafe-central", "cinema-north", "demo-cafe"))
    (demo_row,) = [line for line in table.splitlines() if line.startswith("demo-cafe")]
    assert "NULL" not in demo_row  # hidden by the demo site's own min_tracks, as the score above, not another one
    report = out.split("report: ")[1].split()[0]
    assert report.endswith(".html") and Path(report).is_file()
    assert "cafe-central" in Path(report).read_text()
    video = cv2.VideoCapture(str(state / "annotated_front_door.mp4"))
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 72
    video.release()
    status = json.loads((state / "run" / "status.json").read_text())
    assert {c["name"]: c["state"] for c in status["children"]}["stream"] == "stopped"


def test_a_folder_without_clips_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "readme.txt").write_text("x")
    assert main(["demo", "--videos", str(tmp_path), "--state", str(tmp_path / "s")]) == 2
    assert f"no readable video clip (.mp4, .mov, .avi, .mkv, .m4v, .webm) in {tmp_path}" in capsys.readouterr().err
