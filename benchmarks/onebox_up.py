"""`moodlens up` with four cameras: memory (sum of RSS of up and its children) and recovery after a kill.

Four cameras play the 20-second sample clip in real time. At 8 s one edge is killed with SIGKILL;
the script reports how long until the supervisor has it running again and until its first
heartbeat reaches the event log (the camera is back on the dashboard).

    .venv/bin/python benchmarks/onebox_up.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "WolfgangLanger_Pexels.mp4"


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def heartbeats_after(log: Path, camera: str, after_ms: int) -> bool:
    for segment in sorted(log.glob("*.jsonl")):
        for line in segment.read_text().splitlines():
            if f'"camera_id":"{camera}"' in line.replace(" ", "") and '"camera_heartbeat"' in line:
                event = json.loads(line)
                if event["event_time_ms"] >= after_ms and event.get("uptime_s", 99) < 10:
                    return True
    return False


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="moodlens-up-"))
    site = root / "moodlens.toml"
    cameras = "".join(f'[[cameras]]\nid = "cam-{i}"\nsource = "{CLIP}"\nrealtime = true\n' for i in range(1, 5))
    site.write_text(f'[site]\nid = "bench"\nstate_dir = "state"\n{cameras}[dashboard]\nport = 8799\n')
    up = subprocess.Popen([sys.executable, "-m", "moodlens.cli", "up", "--config", str(site)],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    status = root / "state" / "run" / "status.json"
    peak, started = 0, time.monotonic()
    killed_at: float | None = None
    restarted: float | None = None
    back: float | None = None
    victim, killed_ms = None, 0
    while time.monotonic() - started < 40:
        time.sleep(0.25)
        pids = [up.pid, *children_of(up.pid)]
        peak = max(peak, sum(rss_kib(p) for p in pids))
        if not status.exists():
            continue
        kids = {c["name"]: c for c in json.loads(status.read_text())["children"]}
        edge = kids.get("edge-cam-1", {})
        if killed_at is None and time.monotonic() - started > 8 and edge.get("state") == "running":
            victim = edge["pid"]
            os.kill(victim, signal.SIGKILL)
            killed_at, killed_ms = time.monotonic(), int(time.time() * 1000)
        elif killed_at is not None and restarted is None and edge.get("state") == "running" and edge["pid"] != victim:
            restarted = time.monotonic() - killed_at
        elif restarted is not None and back is None and heartbeats_after(root / "state" / "log", "cam-1", killed_ms):
            back = time.monotonic() - (killed_at or 0.0)
            break
    up.send_signal(signal.SIGTERM)
    up.wait(timeout=60)
    print(f"moodlens up, 4 cameras (real-time 640x360 clip each) + stream runner + dashboard: "
          f"peak sum of RSS {peak / 1024:.0f} MiB")
    print(f"edge killed (SIGKILL): running again after {restarted:.2f} s (backoff 1 s), "
          f"first heartbeat after {back:.2f} s" if restarted and back else "recovery not observed")


if __name__ == "__main__":
    main()
