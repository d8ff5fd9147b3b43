"""Events per second through the spool into the local log: `publish` alone, then drained end to end.

`.venv/bin/python benchmarks/spool_throughput.py [--events N] [--synchronous FULL|NORMAL]`
Prints figures; asserts nothing. FULL fsyncs every put (what the edge uses), NORMAL only at checkpoints.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge.publish.local import LocalLogTransport
from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SqliteSpool
from schemas.ids import new_event_id


def heartbeat(number: int) -> dict[str, object]:
    time_ms = 1_760_000_000_000 + number
    return {"schema": "camera_heartbeat", "schema_version": "1.0", "event_id": new_event_id(time_ms),
            "site_id": "site-1", "event_time_ms": time_ms, "camera_id": "cam-1", "fps": 10.0,
            "faces": number, "open_tracks": 0, "spool_depth": 0, "dropped_count": 0,
            "model_version": "1.0.0", "uptime_s": 1.0, "edge_version": "0.1.0"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    args = parser.parse_args()
    events = [heartbeat(n) for n in range(args.events)]
    with tempfile.TemporaryDirectory() as folder:
        spool = SqliteSpool(Path(folder) / "spool.db", synchronous=args.synchronous)
        publisher = SpoolingPublisher(spool, LocalLogTransport(Path(folder) / "log"))
        start = time.perf_counter()
        for event in events:
            publisher.publish(event)
        spooled = time.perf_counter() - start
        start = time.perf_counter()
        result = publisher.drain()
        drained = time.perf_counter() - start
        assert result.remaining == 0
    print(f"events: {args.events}, synchronous={args.synchronous}")
    print(f"publish into spool: {args.events / spooled:,.0f} events/s ({spooled * 1e6 / args.events:.0f} us/event)")
    print(f"drain spool -> local log: {args.events / drained:,.0f} events/s")
    print(f"end to end: {args.events / (spooled + drained):,.0f} events/s")


if __name__ == "__main__":
    main()
