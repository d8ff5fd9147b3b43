"""`kill -9` of a real `moodlens up`, then a new `up`: no process of the old one left, nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from locallog import LocalLog
from onebox import leftovers

REPO = Path(__file__).resolve().parents[2]
VIDEO = REPO / "data/video/WolfgangLanger_Pexels.mp4"


def processes_of(site: str, state: Path) -> dict[int, str]:
    """This test's edges and stream runners among every process on the machine, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if leftovers.start_time(int(entry.name)) is None:
            continue
        if "edge" in argv and "run" in argv and site in argv:
            found[int(entry.name)] = "edge"
        elif "stream" in argv and "run" in argv and str(state / "stream") in argv:
            found[int(entry.name)] = "stream"
    return found


def _running(status: Path) -> list[dict]:  # type: ignore[type-arg]
    if not status.exists():
        return []
    children = json.loads(status.read_text())["children"]
    return children if children and all(c["state"] == "running" for c in children) else []


def _up(site_file: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "moodlens.cli", "up", "--config", str(site_file)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@contextmanager
def _stopped_at_exit(site_file: Path) -> Iterator[subprocess.Popen[str]]:
    """A second `up`, stopped with SIGTERM when the block ends; it must then end cleanly."""
    second = _up(site_file)
    try:
        yield second
    finally:
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output


def _faces(log: Path) -> list[dict]:  # type: ignore[type-arg]
    records, offset = [], 0
    reader = LocalLog(log)
    while batch := reader.read(offset, 10_000):
        records += [json.loads(payload) for _, payload in batch]
        offset = batch[-1][0] + 1
    return [r for r in records if r.get("schema") != "camera_heartbeat"]


def _wait(predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_of_up_then_a_new_up_leaves_no_old_process_and_counts_no_face_twice(tmp_path: Path) -> None:
    site = f"kill9-{uuid.uuid4().hex[:8]}"
    state = tmp_path / "st"
    site_file = tmp_path / "moodlens.toml"
    site_file.write_text(f'[site]\nid = "{site}"\nstate_dir = "st"\n[[cameras]]\nid = "door"\nsource = "{VIDEO}"\n'
                         'realtime = true\n[thresholds]\nmin_tracks = 1\n[dashboard]\nenabled = false\n'
                         '[lake]\ncompact_every_minutes = 0\n')
    status, log = state / "run" / "status.json", state / "log"
    first = _up(site_file)
    try:
        _wait(lambda: bool(_running(status)), "the first up's children")
        old = {c["pid"] for c in _running(status)}
        _wait(lambda: log.is_dir() and len(_faces(log)) > 0, "the first faces in the log")
        first.kill()  # kill -9: no handler runs, the children are not told
        first.wait()
        _wait(lambda: not (set(processes_of(site, state)) & old), "the old children to die with their supervisor",
              timeout=30)
        faces_before = {f["event_id"] for f in _faces(log)}
        with _stopped_at_exit(site_file):
            _wait(lambda: bool(_running(status)) and {c["pid"] for c in _running(status)} != old, "the second up")
            running = processes_of(site, state)
            assert sorted(running.values()) == ["edge", "stream"], running  # one edge, one runner: no second set
            assert not set(running) & old
            _wait(lambda: len(_faces(log)) > len(faces_before), "the second up's faces")
    finally:
        first.kill()
    assert not processes_of(site, state)
    # close every window, then count: each face the edges logged counts once, however often it was delivered
    flush = subprocess.run([sys.executable, "-m", "moodlens.cli", "stream", "run", "--log", str(log), "--state",
                            str(state / "stream"), "--once", "--flush"], env={**os.environ, "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=120, check=False)
    assert flush.returncode == 0, flush.stderr
    assert counted_faces(state / "stream" / "windows.jsonl") == logged_faces(log)


def logged_faces(log: Path) -> int:
    """Distinct usable face updates in the log, per event id: the independent count."""
    return len({f["event_id"] for f in _faces(log)
                if f.get("kind") == "track_update" and f["quality"].get("usable", True)})


def counted_faces(windows: Path) -> int:
    """The stream's count: faces in the camera's 5-minute windows that end on a multiple of 5 minutes (the
    windows slide by a minute; these tile time, so each face is in exactly one)."""
    latest = {}
    for line in windows.read_text().splitlines():
        window = json.loads(line)
        if window["camera_id"] == "door" and window["window_minutes"] == 5 and window["window_end_ms"] % 300_000 == 0:
            latest[window["window_end_ms"]] = window["faces"]
    return sum(latest.values())


def _reference_updates(tmp_path: Path) -> int:
    """The clip played once, uninterrupted, by hand: its track_updates."""
    output = tmp_path / "reference.jsonl"
    done = subprocess.run([sys.executable, "-m", "moodlens.cli", "edge", "run", "--source", str(VIDEO), "--site",
                           "ref", "--camera", "door", "--quiet", "--output", str(output)],
                          env={**os.environ, "PYTHONPATH": str(REPO), "MOODLENS_STATE_DIR": str(tmp_path / "ref")},
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return sum(json.loads(line).get("kind") == "track_update" for line in output.read_text().splitlines())


def test_a_clip_camera_goes_on_after_kill_9_of_up_and_counts_no_face_twice(tmp_path: Path) -> None:
    site = f"clip-{uuid.uuid4().hex[:8]}"
    state = tmp_path / "st"
    site_file = tmp_path / "moodlens.toml"
    site_file.write_text(f'[site]\nid = "{site}"\nstate_dir = "st"\n[[cameras]]\nid = "door"\nsource = "{VIDEO}"\n'
                         'realtime = true\n[dashboard]\nenabled = false\n[lake]\ncompact_every_minutes = 0\n')
    status, log, progress = state / "run" / "status.json", state / "log", state / "progress" / f"{site}.door.json"
    first = _up(site_file)
    try:
        _wait(lambda: log.is_dir() and sum(f.get("kind") == "track_update" for f in _faces(log)) >= 6,
              "the clip's first faces", timeout=120)
        first.kill()  # kill -9 of `up` in the middle of the clip
        first.wait()
        _wait(lambda: not processes_of(site, state), "the old children to die with their supervisor", timeout=30)
        with _stopped_at_exit(site_file):
            _wait(lambda: status.exists() and any(c["name"] == "edge-door" and c["state"] == "exited"
                                                  for c in json.loads(status.read_text())["children"]),
                  "the clip's end", timeout=180)
    finally:
        first.kill()
    updates = sum(f.get("kind") == "track_update" for f in _faces(log))
    reference = _reference_updates(tmp_path)
    # each second of a face in view is one track_update: played again from its start, the clip would add
    # every one before the kill; going on, at most the cut differs (a track restarts there)
    assert abs(updates - reference) <= 2, (updates, reference)
    assert json.loads(progress.read_text())["ended"] is True
