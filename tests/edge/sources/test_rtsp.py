"""Real cameras: the edge against a real RTSP server (GStreamer's, serving the sample clips).

The server is killed and started again (with another clip: a resolution change): the edge reconnects,
its heartbeats show the gap, no event is doubled and every event it published is in the log. A
server that stays up but sends nothing (SIGSTOP) is detected as a stall by the read timeout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.publish.spool import SqliteSpool
from locallog import LocalLog

REPO = Path(__file__).resolve().parents[3]
SERVER = REPO / "tests" / "support" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
H264 = REPO / "data" / "video" / "WolfgangLanger_Pexels.mp4"  # 640x360
HEVC = REPO / "data" / "video" / "face_noface.mov"  # 960x540


def _have_server() -> bool:
    probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import GstRtspServer")
    try:
        found = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


@pytest.fixture(scope="module")
def rtsp_available() -> None:
    if not _have_server():
        message = ("GStreamer's RTSP server is missing (apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi "
                   "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(clip: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(clip), str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def events(log_dir: Path) -> list[dict]:
    log = LocalLog(log_dir)
    try:
        return [json.loads(payload) for _, payload in log.read(log.start_offset(), 1_000_000)]
    finally:
        log.close()


def wait_for(condition, timeout_s: float, step_s: float = 0.2) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(step_s)
    raise AssertionError(f"not within {timeout_s} s")


def beats_after(log_dir: Path, ms: float) -> list[dict]:
    return [e for e in events(log_dir) if e["schema"] == "camera_heartbeat" and e["event_time_ms"] > ms]


def test_the_edge_reconnects_after_the_server_restarts_and_detects_a_stall(rtsp_available: None,
                                                                            tmp_path: Path) -> None:
    port = free_port()
    server = serve(H264, port)
    log_dir, errors = tmp_path / "log", tmp_path / "edge.err"
    env = {**os.environ, "MOODLENS_LOCAL_LOG": str(log_dir), "MOODLENS_STATE_DIR": str(tmp_path),
           "MOODLENS_SPOOL": str(tmp_path / "spool.db")}
    with errors.open("w") as err:
        edge = subprocess.Popen(
            [sys.executable, "-m", "moodlens.cli", "edge", "run", "--source", f"rtsp://127.0.0.1:{port}/clip",
             "--site", "cafe", "--camera", "door", "--publisher", "local", "--quiet", "--heartbeat-interval", "1",
             "--reconnect-attempts", "0"], env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        connect_s = wait_for(lambda: beats_after(log_dir, 0), 60)
        server.kill()  # the server dies
        server.wait()
        killed_ms = time.time() * 1000
        time.sleep(3)
        server = serve(HEVC, port)  # back, with another camera resolution
        restarted_ms = time.time() * 1000
        reconnect_s = wait_for(lambda: beats_after(log_dir, restarted_ms), 60)
        beats = [e for e in events(log_dir) if e["schema"] == "camera_heartbeat"]
        before = max(b["event_time_ms"] for b in beats if b["event_time_ms"] <= killed_ms)
        after = min(b["event_time_ms"] for b in beats if b["event_time_ms"] > killed_ms)
        assert after - before >= 3000  # the heartbeats show the gap
        # a stall: the server stays up and sends nothing
        os.kill(server.pid, signal.SIGSTOP)
        stalled = time.monotonic()
        stall_s = wait_for(lambda: "reconnecting" in errors.read_text().split("reconnected")[-1]
                           and time.monotonic() - stalled > 1, 40)
        os.kill(server.pid, signal.SIGCONT)
        resumed_ms = time.time() * 1000
        wait_for(lambda: beats_after(log_dir, resumed_ms), 60)
    finally:
        edge.send_signal(signal.SIGINT)
        code = edge.wait(timeout=60)
        server.kill()
        server.wait()
    text = errors.read_text()
    assert code in (0, 130), text  # 130: stopped by SIGINT, as `moodlens up` stops it
    assert "frame size changed from 640x360 to 960x540" in text
    published = events(log_dir)
    ids = [e["event_id"] for e in published]
    assert len(ids) == len(set(ids))  # nothing doubled
    spool = SqliteSpool(tmp_path / "spool.db")
    assert spool.depth() == 0  # nothing left behind: everything the edge made is in the log
    spool.close()
    print(f"rtsp: connected {connect_s:.1f} s after start, reconnected {reconnect_s:.1f} s after the server "
          f"restarted, stall detected {stall_s:.1f} s after the server stopped sending")


def test_a_camera_url_that_does_not_answer_exits_75_for_the_box_to_retry(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {**os.environ, "MOODLENS_LOCAL_LOG": str(tmp_path / "log"), "MOODLENS_STATE_DIR": str(tmp_path),
           "MOODLENS_SPOOL": str(tmp_path / "spool.db")}
    result = subprocess.run(
        [sys.executable, "-m", "moodlens.cli", "edge", "run", "--source", f"rtsp://127.0.0.1:{port}/cam",
         "--site", "cafe", "--camera", "door", "--publisher", "local", "--quiet"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 75, result.stderr
    assert f"moodlens: error: cannot open source rtsp://127.0.0.1:{port}/cam" in result.stderr
    assert "worth retrying" in result.stderr


def test_a_server_that_answers_garbage_is_a_clear_error_the_box_retries(tmp_path: Path) -> None:
    import random
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    stop = threading.Event()

    def answer() -> None:
        listener.settimeout(0.5)
        rng = random.Random(3)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.recv(4096)
                connection.sendall(bytes(rng.randrange(256) for _ in range(4096)))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    env = {**os.environ, "MOODLENS_LOCAL_LOG": str(tmp_path / "log"), "MOODLENS_STATE_DIR": str(tmp_path),
           "MOODLENS_SPOOL": str(tmp_path / "spool.db")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "moodlens.cli", "edge", "run", "--source", f"rtsp://127.0.0.1:{port}/cam",
             "--site", "cafe", "--camera", "door", "--publisher", "local", "--quiet"],
            env=env, capture_output=True, text=True, timeout=120, check=False)
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert result.returncode == 75, result.stderr
    assert f"cannot open source rtsp://127.0.0.1:{port}/cam" in result.stderr
