"""End-to-end delay in embedded mode: from an event's time to its window and to the alarm it raises.

    taskset -c 0 .venv/bin/python benchmarks/stream_e2e.py [--lateness-s 5] [--faces 8] [--max-seconds 240]

A live camera is simulated against the wall clock, shaped like the edge's output: ``--faces`` tracks
in view at any time, each living ``--dwell-s`` seconds, each sending a ``track_update`` once per
second (stamped "now") and a ``track_end`` when it leaves, plus a heartbeat per minute; every face is
sour (sad/angry, some neutral), so each 1-minute window has net score ~ -0.8 and the
``low_sentiment`` alarm (1-minute windows, ``raise_m`` of ``raise_n`` bad) fires. The events are
appended to a LocalLog as they happen; an EmbeddedRunner (its own thread, polling every 50 ms)
follows it. The runner is instrumented, not changed: the wall time at which each batch is read
(arrival at the runner) and at which its outputs are durable (written, fsynced, checkpointed) are
recorded; the run stops once the alarm is written (or at ``--max-seconds``).

Delay of a window ending at E (it holds the events of [E - 1 min, E)), in wall-clock seconds:

* from its last event (event time just below E) to the window line: the allowed lateness (the
  watermark passes E only when an event stamped >= E + lateness arrives), plus the gap until that
  next event, plus the host overhead (poll, validation, engine, alarms, fsyncs and checkpoint);
* from its first event: one minute more (the window is a 1-minute pane: its first vote waits for
  the minute to end);
* the alarm is decided on the same tick from the same window, in the same commit: its delay is
  the window's (to the ms).

The figure for another lateness (120 s by default in ``moodlens stream run``) is that lateness plus
the same overhead; for a 15-minute alarm window the minute becomes 15.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repo root

from locallog import LocalLog
from schemas.expressions import EXPRESSIONS, VALENCE
from stream.alarms import AlarmConfig
from stream.embedded import EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.ids import stable_event_id
from stream.jsonl import dumps

SITE, CAMERA = "cafe-1", "cam-a"
_QUALITY = {"face_px": 96, "sharpness": 140.5, "brightness": 120.0, "usable": True}
_BOX = {"x": 0.25, "y": 0.1, "w": 0.2, "h": 0.3}
_MODEL = {"id": "moodlens-expression-vgg32", "version": "1.0.0"}
_PROBS = {top: {n: (0.94 if n == top else 0.01) for n in EXPRESSIONS} for top in EXPRESSIONS}
_SOUR = ["sad", "sad", "angry", "neutral"]


def face(t: int, track: str, top: str, n: int, kind: str = "track_update", dwell_ms: int = 0) -> dict[str, Any]:
    event = {"schema": "face_expression", "schema_version": "1.0", "event_id": stable_event_id(t, track, n),
             "site_id": SITE, "camera_id": CAMERA, "zone": None, "track_id": track, "event_time_ms": t,
             "kind": kind, "box": _BOX, "quality": _QUALITY, "probabilities": _PROBS[top], "top_class": top,
             "valence": VALENCE[top], "model": _MODEL, "edge_version": "0.1.0"}
    if kind == "track_end":
        event.update(duration_ms=dwell_ms, frame_count=max(1, dwell_ms // 40))
    return event


def heartbeat(t: int, faces: int, n: int) -> dict[str, Any]:
    return {"schema": "camera_heartbeat", "schema_version": "1.0", "event_id": stable_event_id(t, "hb", n),
            "site_id": SITE, "camera_id": CAMERA, "event_time_ms": t, "fps": 24.0, "faces": faces,
            "open_tracks": faces, "spool_depth": 0, "dropped_count": 0, "model_version": "1.0.0",
            "uptime_s": 10.0, "edge_version": "0.1.0"}


class _Timed:
    """The runner's log, recording when each batch was read and the event times in it."""

    def __init__(self, log: LocalLog) -> None:
        self.log = log
        self.read_at = 0.0
        self.batch_max_t = 0

    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        records = self.log.read(offset, max_records)
        if records:
            self.read_at = time.time()
            self.batch_max_t = max(json.loads(payload)["event_time_ms"] for _, payload in records)
        return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lateness-s", type=float, default=5.0)
    parser.add_argument("--faces", type=int, default=8, help="faces in view at any time (default 8)")
    parser.add_argument("--dwell-s", type=int, default=20, help="seconds a track stays in view (default 20)")
    parser.add_argument("--raise-m", type=int, default=2, help="bad windows (of --raise-n) to raise (default 2)")
    parser.add_argument("--raise-n", type=int, default=3)
    parser.add_argument("--min-tracks", type=int, default=3)
    parser.add_argument("--max-seconds", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="moodlens-e2e-"))
    log = LocalLog(root / "log")
    lateness_ms = int(args.lateness_s * 1000)
    config = RunnerConfig(
        engine=EngineConfig(window_minutes=(1, 5), allowed_lateness_ms=lateness_ms, min_tracks=args.min_tracks),
        alarms=AlarmConfig(window_minutes=1, min_tracks=args.min_tracks, raise_m=args.raise_m,
                           raise_n=args.raise_n, clear_m=1, cameras=True),
        check_time=True)
    timed = _Timed(LocalLog(root / "log"))
    runner = EmbeddedRunner(timed, root / "state", config)
    commits: list[dict[str, Any]] = []
    commit = runner._commit

    def timed_commit(emitted: Any, *rest: Any, **named: Any) -> None:
        commit(emitted, *rest, **named)  # the host's outputs are written and flushed, the state committed
        if emitted.windows or emitted.alarms:
            commits.append({"read_at": timed.read_at, "durable_at": time.time(), "batch_max_t": timed.batch_max_t,
                            "windows": emitted.windows, "alarms": emitted.alarms})

    runner._commit = timed_commit  # type: ignore[method-assign]
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop.is_set, 0.05))
    thread.start()

    # the edge: --faces tracks in view, staggered; each updates once a second and ends after --dwell-s
    appended: dict[int, float] = {}  # event time -> wall time it was in the log
    per_minute: dict[int, list[int]] = {}  # minute -> [first, last] face event time
    start = time.time()
    tracks = [(f"t{i}", start + rng.uniform(0, 1), start + rng.uniform(0, args.dwell_s), _SOUR[i % 4])
              for i in range(args.faces)]  # (id, next update at, ends at, expression)
    next_track = args.faces
    next_beat = start
    n = 0
    try:
        while time.time() - start < args.max_seconds and not any(c["alarms"] for c in commits):
            now = time.time()
            batch = []
            for i, (track, due, ends, top) in enumerate(tracks):
                if now < due:
                    continue
                t = int(now * 1000)
                if now >= ends:  # leaves: track_end, a new face takes its place
                    batch.append(face(t, track, top, n, "track_end", int(args.dwell_s * 1000)))
                    tracks[i] = (f"t{next_track}", now + 1, now + args.dwell_s, rng.choice(_SOUR))
                    next_track += 1
                else:
                    batch.append(face(t, track, top, n))
                    tracks[i] = (track, due + 1, ends, top)
                n += 1
                per_minute.setdefault(t // 60_000, [t, t])[1] = t
            if now >= next_beat:
                batch.append(heartbeat(int(now * 1000), args.faces, n))
                n += 1
                next_beat += 60
            if batch:
                log.append([dumps(e) for e in batch])
                written = time.time()
                for e in batch:
                    appended[e["event_time_ms"]] = written
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
        runner.close()

    rows = []
    for c in commits:
        for w in c["windows"]:
            if w["window_minutes"] != 1 or w["camera_id"] is not None:
                continue  # one line per boundary: the site's 1-minute window (the camera's is in the same commit)
            end = w["window_end_ms"]
            first, last = per_minute.get(end // 60_000 - 1, [None, None])
            alarm = [a for a in c["alarms"] if a["event_time_ms"] == end]
            rows.append({
                "window_end_ms": end, "tracks": w["tracks"], "net_score": w["net_score"],
                "alarm": sorted(f"{a['rule']}:{a['state']}:{a['camera_id'] or '*'}" for a in alarm),
                # the event whose arrival moved the watermark past E (stamped >= E + lateness)
                "closing_event_minus_end_s": round(c["batch_max_t"] / 1000 - end / 1000, 3),
                "closing_event_arrival_s": round(c["read_at"] - c["batch_max_t"] / 1000, 3),
                "closing_event_read_to_durable_s": round(c["durable_at"] - c["read_at"], 3),
                "end_to_durable_s": round(c["durable_at"] - end / 1000, 3),
                "last_event_to_window_s": round(c["durable_at"] - last / 1000, 3) if last else None,
                "first_event_to_window_s": round(c["durable_at"] - first / 1000, 3) if first else None,
                "last_event_to_alarm_s": round(c["durable_at"] - last / 1000, 3) if alarm and last else None,
                "first_event_to_alarm_s": round(c["durable_at"] - first / 1000, 3) if alarm and first else None,
            })
    full = [r for r in rows if r["first_event_to_window_s"] and r["first_event_to_window_s"] > 60]
    overhead = [r["end_to_durable_s"] - args.lateness_s for r in rows]
    append_lag = [appended[t] - t / 1000 for t in appended]
    print(json.dumps({
        "lateness_s": args.lateness_s, "faces_in_view": args.faces, "dwell_s": args.dwell_s,
        "events": n, "run_s": round(time.time() - start, 1), "alarm_fired": any(r["alarm"] for r in rows),
        "edge_append_lag_s": {"median": round(statistics.median(append_lag), 4), "max": round(max(append_lag), 4)}
        if append_lag else None,
        "boundaries": rows,
        "end_to_durable_minus_lateness_s": {"min": round(min(overhead), 3), "max": round(max(overhead), 3)}
        if overhead else None,
        "full_minutes": len(full)}, indent=1))
    if not any(r["alarm"] for r in rows):
        raise SystemExit("no alarm was written: raise --max-seconds or lower --raise-m")


if __name__ == "__main__":
    main()
