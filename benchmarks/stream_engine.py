"""Window engine figures: events/s on one core, validation records/s, peak memory for 1,000 cameras x 24 h.

    taskset -c 0 .venv/bin/python benchmarks/stream_engine.py throughput
    taskset -c 0 .venv/bin/python benchmarks/stream_engine.py memory [--rate 0.1]

Events are synthetic, already validated dicts (validation is its own stage and its own figure).
Nested objects are shared between events to keep the generator's memory out of the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from collections.abc import Iterator
from typing import Any

from schemas.expressions import EXPRESSIONS, VALENCE
from schemas.validation import parse_event
from stream.engine import EngineConfig, WindowEngine
from stream.ids import stable_event_id

T0 = 1_790_000_040_000 // 60_000 * 60_000
_QUALITY = {"face_px": 96, "sharpness": 140.5, "brightness": 120.0, "usable": True}
_LOW = {**_QUALITY, "usable": False}
_BOX = {"x": 0.25, "y": 0.1, "w": 0.2, "h": 0.3}
_MODEL = {"id": "moodlens-expression-vgg32", "version": "1.0.0"}
_PROBS = {top: {n: (0.94 if n == top else 0.01) for n in EXPRESSIONS} for top in EXPRESSIONS}


def events(cameras: int, seconds: int, per_camera_per_s: float, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Track updates in event-time order (jittered by up to 30 s), a heartbeat per camera per 30 s."""
    rng = random.Random(seed)
    interval_ms = int(1000 / per_camera_per_s)
    for step in range(0, seconds * 1000, interval_ms):
        for c in range(cameras):
            t = T0 + step + rng.randrange(min(interval_ms, 1000))
            if rng.random() < 0.05:
                t -= rng.randrange(30_000)  # arrives late, within the allowed lateness
            top = EXPRESSIONS[rng.randrange(7)]
            yield {"schema": "face_expression", "schema_version": "1.0", "event_id": stable_event_id(t, c, step),
                   "site_id": f"site-{c // 10}", "camera_id": f"cam-{c % 10}", "zone": None,
                   "track_id": f"t{(step // 60_000 + c) % 997}-{rng.randrange(3)}", "event_time_ms": t,
                   "kind": "track_update", "box": _BOX, "quality": _LOW if rng.random() < 0.05 else _QUALITY,
                   "probabilities": _PROBS[top], "top_class": top, "valence": VALENCE[top], "model": _MODEL,
                   "edge_version": "0.1.0"}
            if step % 30_000 < interval_ms:
                yield {"schema": "camera_heartbeat", "schema_version": "1.0",
                       "event_id": stable_event_id(t, c, step, "hb"), "site_id": f"site-{c // 10}",
                       "camera_id": f"cam-{c % 10}", "event_time_ms": t, "fps": 24.0, "faces": 3,
                       "open_tracks": 2, "spool_depth": 0, "dropped_count": 0, "model_version": "1.0.0",
                       "uptime_s": 10.0, "edge_version": "0.1.0"}


def throughput(args: argparse.Namespace) -> None:
    data = list(events(args.cameras, args.seconds, args.rate))
    engine = WindowEngine(EngineConfig())
    start = time.perf_counter()
    windows = 0
    for i in range(0, len(data), args.batch):
        windows += len(engine.process(data[i:i + args.batch]).windows)
    elapsed = time.perf_counter() - start
    hot = WindowEngine(EngineConfig(window_minutes=(5, 15, 60)))
    # hot path alone: one batch, the watermark never passes a boundary
    sample = [e for e in data if e["event_time_ms"] < T0 + 50_000][:200_000]
    start = time.perf_counter()
    hot.process(sample)
    hot_elapsed = time.perf_counter() - start
    raw = [json.dumps(e).encode() for e in data[:20_000]]
    start = time.perf_counter()
    for record in raw:
        parse_event(record, max_bytes=65_536)
    validate_elapsed = time.perf_counter() - start
    print(json.dumps({
        "events": len(data), "cameras": args.cameras, "event_time_s": args.seconds, "windows": windows,
        "engine_events_per_s": round(len(data) / elapsed),
        "engine_hot_path_events_per_s": round(len(sample) / hot_elapsed),
        "validation_records_per_s": round(len(raw) / validate_elapsed),
        "engine": vars(engine.stats)}, indent=1))


def memory(args: argparse.Namespace) -> None:
    engine = WindowEngine(EngineConfig())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    batch: list[dict[str, Any]] = []
    windows = 0
    start = time.perf_counter()
    for event in events(1_000, args.hours * 3_600, args.rate):
        batch.append(event)
        if len(batch) == args.batch:
            windows += len(engine.process(batch).windows)
            batch.clear()
    windows += len(engine.process(batch).windows)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    snapshot = engine.snapshot()
    print(json.dumps({
        "cameras": 1_000, "hours": args.hours, "events": engine.stats.events, "windows": windows,
        "rss_before_mib": round(before / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
        "engine_growth_mib": round((peak - before) / 1024, 1), "seconds": round(elapsed, 1),
        "events_per_s_with_emission": round(engine.stats.events / elapsed),
        "state": {"open_panes": len(snapshot["panes"]), "cameras": len(snapshot["cameras"]),
                  "live_tracks": sum(len(c[2]) for c in snapshot["cameras"]),
                  "remembered_ids": sum(len(i) for _, i in snapshot["ids"] + snapshot["old_ids"]),
                  "snapshot_mib": round(len(json.dumps(snapshot)) / 2**20, 1)}}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="figure", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--cameras", type=int, default=200)
    t.add_argument("--seconds", type=int, default=600)
    t.add_argument("--rate", type=float, default=3.0, help="events per camera per second")
    t.add_argument("--batch", type=int, default=5_000)
    t.set_defaults(run=throughput)
    m = sub.add_parser("memory")
    m.add_argument("--hours", type=int, default=24)
    m.add_argument("--rate", type=float, default=0.1, help="events per camera per second")
    m.add_argument("--batch", type=int, default=5_000)
    m.set_defaults(run=memory)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
