"""Lambda handler throughput in process: records/s through the whole per-batch pipeline.

    taskset -c 0 .venv/bin/python benchmarks/lambda_throughput.py [--records 100000] [--batch-size 500]

Builds Kinesis-shaped events (base64 data, sequence numbers, eventSourceARN) of face_expression
track updates and heartbeats spread over sites, cameras and minutes, optionally with a share of bad
records, and calls the handler on them batch by batch: base64 decode, strict JSON and contract
validation (`stream.ingest`), in-batch dedup, folding into panes, building the statistic sets, the
powertools partial-response pass. Sinks are in memory (no network): the figure is the handler's own
CPU cost, the ceiling above which CloudWatch and SQS latency decide. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

from stream.aws.cloudwatch import MemoryMetricSink
from stream.aws.kinesis_events import lambda_event
from stream.aws.kinesis_reader import KinesisRecord
from stream.aws.lambda_handler import KinesisBatchHandler
from stream.deadletter import DeadLetter

T0 = 1_790_000_000_000
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class CountingLetters:
    def __init__(self) -> None:
        self.count = 0

    def put(self, letters: Sequence[DeadLetter]) -> None:
        self.count += len(letters)


def make_payloads(n: int, sites: int, cameras: int, bad_share: float, seed: int) -> list[tuple[str, bytes]]:
    from schemas.ids import new_event_id

    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    for i in range(n):
        site, camera = f"site-{rng.randrange(sites)}", f"cam-{rng.randrange(cameras)}"
        t = T0 + i * 20  # ~50 events/s of event time: a batch of 500 spans about 10 s
        if rng.random() < bad_share:
            out.append((site, b'{"schema": "face_expression", "schema_version": "1.0", '))
            continue
        if i % 50 == 0:
            event: dict[str, Any] = {
                "schema": "camera_heartbeat", "schema_version": "1.0", "event_id": new_event_id(t),
                "site_id": site, "camera_id": camera, "event_time_ms": t, "fps": 12.0, "faces": 3,
                "open_tracks": 2, "spool_depth": 0, "dropped_count": 0, "model_version": "1.0.0",
                "uptime_s": 100.0, "edge_version": "0.1.0"}
        else:
            weights = [rng.random() for _ in EXPRESSIONS]
            total = sum(weights)
            probabilities = {e: round(w / total, 4) for e, w in zip(EXPRESSIONS, weights, strict=True)}
            probabilities["neutral"] = round(1 - sum(v for k, v in probabilities.items() if k != "neutral"), 4)
            top = max(probabilities, key=lambda k: probabilities[k])
            event = {
                "schema": "face_expression", "schema_version": "1.0", "event_id": new_event_id(t),
                "site_id": site, "camera_id": camera, "zone": None, "track_id": f"t{rng.randrange(40)}",
                "event_time_ms": t, "kind": "track_update", "box": {"x": 0.2, "y": 0.1, "w": 0.2, "h": 0.3},
                "quality": {"face_px": 90, "sharpness": 120.0, "brightness": 110.0, "usable": rng.random() > 0.1},
                "probabilities": probabilities, "top_class": top, "valence": 0.1,
                "model": {"id": "moodlens-expression", "version": "1.0.0"}, "edge_version": "0.1.0"}
        out.append((site, json.dumps(event).encode()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500, help="the event source mapping's BatchSize")
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--bad-share", type=float, nargs="+", default=[0.0, 0.05])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"cores available to this process: {affinity or 'unknown'} (run under `taskset -c 0` for one core)")
    logging.getLogger("moodlens.lambda").setLevel(logging.WARNING)
    arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/moodlens-events"
    for bad_share in args.bad_share:
        payloads = make_payloads(args.records, args.sites, args.cameras, bad_share, args.seed)
        records = [KinesisRecord("shardId-000000000000", f"{49_000_000_000 + i:056d}", key, data,
                                 T0 + i * 20) for i, (key, data) in enumerate(payloads)]
        events = [lambda_event(records[i:i + args.batch_size], arn, "eu-west-1")
                  for i in range(0, len(records), args.batch_size)]
        metrics, letters = MemoryMetricSink(), CountingLetters()
        handler = KinesisBatchHandler(metrics, letters, clock_ms=lambda: T0 + args.records * 20)
        per_batch: list[float] = []
        start, cpu_start = time.perf_counter(), time.process_time()
        for event in events:
            began = time.perf_counter()
            response = handler(event)
            per_batch.append(time.perf_counter() - began)
            assert not response["batchItemFailures"]
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        print(f"\n-- {args.records} records, batches of {args.batch_size}, {bad_share:.0%} bad records")
        print(f"records/s          {args.records / elapsed:,.0f} wall, {args.records / cpu:,.0f} per CPU second "
              f"(the second is the figure to trust on a busy machine)")
        print(f"per batch          median {statistics.median(per_batch) * 1000:.1f} ms, "
              f"max {max(per_batch) * 1000:.1f} ms")
        print(f"metric data        {len(metrics.data):,} items ({len(metrics.data) / len(events):.0f} per batch)")
        print(f"dead letters       {letters.count:,}")


if __name__ == "__main__":
    main()
