"""`moodlens edge run --resume` on a real clip, in real processes: after a clean stop or a `kill -9` the
camera goes on from where its published events end, and a clip played to its end is not played again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from locallog import LocalLog

REPO = Path(__file__).resolve().parents[3]
CLIP = REPO / "data" / "video" / "WolfgangLanger_Pexels.mp4"
FRAMES = 472  # the clip's


def _edge(state: Path, *extra: str, output: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOODLENS_STATE_DIR": str(state)}
    if output is None:
        env["MOODLENS_LOCAL_LOG"] = str(state / "log")
    argv = [sys.executable, "-m", "moodlens.cli", "edge", "run", "--source", str(CLIP), "--site", "cafe",
            "--camera", "door", "--quiet", "--heartbeat-interval", "0", *extra]
    argv += ["--output", str(output)] if output is not None else []
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finished(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    return output


def _logged(log: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    offset = 0
    reader = LocalLog(log)
    while batch := reader.read(offset, 10_000):
        records += [json.loads(payload) for _, payload in batch]
        offset = batch[-1][0] + 1
    return records


def _progress(state: Path) -> dict[str, Any]:
    path = state / "progress" / "cafe.door.json"
    return json.loads(path.read_text()) if path.exists() else {"next_frame": 0}


def _updates(events: list[dict[str, Any]]) -> int:
    return sum(e.get("kind") == "track_update" for e in events)


def _reference(tmp_path: Path) -> list[dict[str, Any]]:
    """The clip played once, uninterrupted."""
    output = tmp_path / "reference.jsonl"
    _finished(_edge(tmp_path / "reference-state", output=output))
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_a_clip_killed_mid_way_goes_on_from_its_published_events_and_is_not_played_again(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = _edge(state, "--resume", "--realtime")
    deadline = time.monotonic() + 90
    while _progress(state)["next_frame"] < 150:
        assert first.poll() is None and time.monotonic() < deadline, "the first run never got to frame 150"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    kept = _progress(state)
    second = _finished(_edge(state, "--resume"))
    assert f"goes on from frame {kept['next_frame']}," in second
    assert f"edge run done: {FRAMES - kept['next_frame']} frames" in second
    events = _logged(state / "log")
    before = [e for e in events if e["event_time_ms"] <= kept["last_ms"]]
    after = [e for e in events if e["event_time_ms"] > kept["last_ms"]]
    assert before and after  # the spool delivered what the killed run had published, the second run the rest
    reference = _reference(tmp_path)
    # each second of a face in view is one track_update, whether or not the clip was cut: at most the
    # cut itself differs (a track restarts there)
    assert abs(_updates(events) - _updates(reference)) <= 2, (_updates(events), _updates(reference))
    third = _finished(_edge(state, "--resume"))
    assert "not played again" in third and len(_logged(state / "log")) == len(events)


def test_a_clean_stop_goes_on_at_the_next_frame_and_without_resume_the_clip_plays_from_its_start(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    _finished(_edge(state, "--resume", "--max-frames", "200"))
    assert _progress(state) | {"last_ms": None} == {"identity": _progress(state)["identity"], "next_frame": 200,
                                                    "last_ms": None, "ended": False}
    first = _logged(state / "log")
    rest = _finished(_edge(state, "--resume"))
    assert "goes on from frame 200," in rest and f"edge run done: {FRAMES - 200} frames" in rest
    second = _logged(state / "log")[len(first):]
    assert second and min(e["event_time_ms"] for e in second) > max(e["event_time_ms"] for e in first)
    again = _finished(_edge(tmp_path / "by-hand"))  # by hand, without --resume: the whole clip, as ever
    assert f"edge run done: {FRAMES} frames" in again


def _ahead_of_the_clock_ms(*extra: str) -> list[int]:
    """How far each event's time is ahead of the wall clock when it is read (which is after it was published)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "moodlens.cli", "edge", "run", "--source", str(CLIP), "--site",
                                "cafe", "--camera", "door", "--quiet", "--heartbeat-interval", "0", *extra],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    ahead = [json.loads(line)["event_time_ms"] - int(time.time() * 1000) for line in process.stdout]
    assert process.wait(timeout=180) == 0
    return ahead


def test_a_clip_played_as_fast_as_it_goes_stays_within_max_ahead_of_the_wall_clock() -> None:
    assert max(_ahead_of_the_clock_ms()) > 3000  # unlimited, the clip's 20 s run ahead of the clock
    limited = _ahead_of_the_clock_ms("--max-ahead", "2")
    assert limited and max(limited) <= 2000


def test_a_live_camera_keeps_no_progress_and_starts_where_the_camera_is(state_dir: Path) -> None:
    import argparse

    from moodlens.commands.edge import _recorded_progress

    args = argparse.Namespace(resume=True, site="cafe", camera="door")
    for live in ("0", "rtsp://127.0.0.1:8554/door", "awscam"):
        assert _recorded_progress(args, live) is None
    recorded = _recorded_progress(args, str(CLIP))
    assert recorded is not None and recorded.next_frame == 0
    assert not (state_dir / "progress").exists()  # nothing written before a frame is played
