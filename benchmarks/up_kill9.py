"""`kill -9` of `moodlens up`, then a new `up`: processes of the old one left, and faces doubled.

One camera plays the 20-second sample clip in real time. The first `up` runs for --seconds, is
killed with SIGKILL, and a second `up` on the same site file runs for as long again. Printed:
the first `up`'s children still running 5 s after the kill (target 0), edges running for the camera
during the second `up` (target 1), faces logged per minute in each run (a second edge on the camera
doubles it), and after a final `stream run --once --flush` the faces the stream counted against the
distinct faces in the log (counted twice: target 0).

    .venv/bin/python benchmarks/up_kill9.py                   # this checkout
    .venv/bin/python benchmarks/up_kill9.py --repo /work/main  # another checkout, for a before/after
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

CLIP = Path(__file__).resolve().parents[1] / "data" / "video" / "WolfgangLanger_Pexels.mp4"


def processes(site: str, stream_dir: Path) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":
            continue
        if "edge" in argv and site in argv:
            found[int(entry.name)] = "edge"
        elif "stream" in argv and str(stream_dir) in argv:
            found[int(entry.name)] = "stream"
    return found


def faces(log: Path) -> list[dict[str, Any]]:
    out = []
    for segment in sorted(log.glob("*.jsonl")):
        for line in segment.read_bytes().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("schema") == "face_expression" and event.get("kind") == "track_update":
                out.append(event)
    return out


def running(status: Path) -> set[int]:
    try:
        children = json.loads(status.read_text())["children"]
    except (FileNotFoundError, ValueError, KeyError):
        return set()
    return {c["pid"] for c in children if c["state"] == "running"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    site = f"kill9-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "PYTHONPATH": str(args.repo)}  # and cwd: `python -m` puts the working folder first
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "moodlens.toml").write_text(
            f'[site]\nid = "{site}"\nstate_dir = "st"\n[[cameras]]\nid = "door"\nsource = "{CLIP}"\nrealtime = true\n'
            '[thresholds]\nmin_tracks = 1\n[dashboard]\nenabled = false\n[lake]\ncompact_every_minutes = 0\n')
        state, status = root / "st", root / "st" / "run" / "status.json"
        up = [sys.executable, "-m", "moodlens.cli", "up", "--config", str(root / "moodlens.toml")]
        first = subprocess.Popen(up, env=env, cwd=args.repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(running(status)) < 2:
            time.sleep(0.1)
        old = running(status)
        start1 = time.time()
        time.sleep(args.seconds)
        first.kill()
        first.wait()
        end1 = time.time()
        time.sleep(5)
        left = sorted(set(processes(site, state / "stream")) & old)
        second = subprocess.Popen(up, env=env, cwd=args.repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (running(status) - old):
            time.sleep(0.1)
        start2 = time.time()
        time.sleep(args.seconds / 2)
        edges = sum(1 for kind in processes(site, state / "stream").values() if kind == "edge")
        time.sleep(args.seconds / 2)
        end2 = time.time()
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=120)
        for pid in processes(site, state / "stream"):  # the orphans of a checkout without the fix
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        flush = ["stream", "run", "--log", str(state / "log"), "--state", str(state / "stream"), "--once", "--flush"]
        subprocess.run([sys.executable, "-m", "moodlens.cli", *flush], env=env, cwd=args.repo, check=True,
                       capture_output=True)
        logged = faces(state / "log")
        counted: dict[int, int] = {}
        for line in (state / "stream" / "windows.jsonl").read_text().splitlines():
            window = json.loads(line)
            tiles = window["window_minutes"] == 5 and window["window_end_ms"] % 300_000 == 0  # each face in one
            if window["camera_id"] == "door" and tiles:
                counted[window["window_end_ms"]] = window["faces"]
        usable = {str(f["event_id"]) for f in logged if f["quality"].get("usable", True)}

        def rate(start: float, end: float) -> float:
            n = sum(1 for f in logged if start * 1000 <= int(f["event_time_ms"]) < end * 1000)
            return n / (end - start)

        print(f"checkout: {args.repo}")
        print(f"old children still running 5 s after kill -9 of up: {len(left)} (target 0) {left}")
        print(f"edges running for the camera during the second up: {edges} (target 1)")
        first_rate, second_rate = rate(start1, end1) * 60, rate(start2, end2) * 60
        print(f"faces logged per minute: first up {first_rate:.0f}, second up {second_rate:.0f} "
              f"(x{second_rate / max(first_rate, 1e-9):.2f}; target x1: two edges per camera double it)")
        print(f"faces counted by the stream {sum(counted.values())}, distinct faces in the log {len(usable)}: "
              f"counted twice {sum(counted.values()) - len(usable)} (target 0)")


if __name__ == "__main__":
    main()
