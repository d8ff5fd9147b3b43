"""End-to-end delay in embedded mode: from an event's time to its first window and to an alarm.

    taskset -c 0 .venv/bin/python benchmarks/stream_e2e.py

Live cameras are simulated against the wall clock: every second, events stamped "now" are appended
to a LocalLog while the EmbeddedRunner follows it; the delay is the wall time at which the window
(or alarm) line is in windows.jsonl/alarms.jsonl minus the event time. By design it is at least the
rest of the event's minute plus the allowed lateness, so the run uses a 5 s lateness to stay short;
the figure for the default 120 s lateness is the measured host overhead plus 120 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from moodlens.locallog import LocalLog
from stream.alarms import AlarmConfig
from stream.embedded import ALARMS, WINDOWS, EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.jsonl import dumps, read_jsonl
from tests.stream.helpers import face


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=150)
    parser.add_argument("--lateness-s", type=float, default=5.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="moodlens-e2e-"))
    log = LocalLog(root / "log")
    config = RunnerConfig(engine=EngineConfig(window_minutes=(1, 5), allowed_lateness_ms=int(args.lateness_s * 1000),
                                              min_tracks=2),
                          alarms=AlarmConfig(window_minutes=1, min_tracks=2, raise_m=1, raise_n=1, clear_m=1),
                          check_time=True)
    runner = EmbeddedRunner(LocalLog(root / "log"), root / "state", config)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop.is_set, 0.05))
    thread.start()
    seen: dict[str, float] = {}
    positions = {WINDOWS: 0, ALARMS: 0}
    sent_minutes: dict[int, int] = {}
    start = time.time()
    n = 0
    while time.time() - start < args.seconds:
        now_ms = int(time.time() * 1000)
        top = "sad" if (now_ms // 60_000) % 2 else "happy"  # every other minute is sour: alarms flip
        log.append([dumps(face(now_ms, f"t{i}", top=top, n=n + i)) for i in range(5)])
        n += 5
        sent_minutes.setdefault(now_ms // 60_000, now_ms)
        for name, position in list(positions.items()):
            docs, positions[name] = read_jsonl(root / "state" / name, position)
            for doc in docs:
                seen.setdefault(f"{name}:{doc['event_time_ms']}", time.time())
        time.sleep(0.2)
    stop.set()
    thread.join()
    runner.close()
    window_delays = []  # first event of a minute -> the 1-minute window ending after it
    for minute, first_ms in sent_minutes.items():
        key = f"{WINDOWS}:{(minute + 1) * 60_000}"
        if key in seen:
            window_delays.append(seen[key] - first_ms / 1000)
    host = [seen[k] - int(k.split(":")[1]) / 1000 - args.lateness_s for k in seen if k.startswith(WINDOWS)]
    alarm_host = [seen[k] - int(k.split(":")[1]) / 1000 - args.lateness_s for k in seen if k.startswith(ALARMS)]
    print(json.dumps({
        "lateness_s": args.lateness_s,
        "event_to_window_s": [round(d, 2) for d in window_delays],
        "host_overhead_after_watermark_s": {"median": round(statistics.median(host), 3), "max": round(max(host), 3)}
        if host else None,
        "alarm_overhead_after_watermark_s": {"median": round(statistics.median(alarm_host), 3)} if alarm_host else None,
        "alarms": len(alarm_host)}, indent=1))


if __name__ == "__main__":
    main()
