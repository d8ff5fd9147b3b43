"""Validation figure: records/s per core through the stream's ingest stage, fast path vs reference.

    taskset -c 0 .venv/bin/python -m benchmarks.validation_throughput [--records 50000] [--repeat 5]

Records are the window-engine benchmark's edge-shaped events (track updates with a heartbeat per
camera per 30 s), JSON-encoded the way the edge sends them. Three figures, each the best of
``--repeat`` passes:

* ``reference``: ``schemas.validation.parse_event`` (json + the reference validator), the stage before;
* ``fast``: ``schemas.fast_decode.FastDecoder.parse``: the C validator (``schemas/_native/record.c``)
  where it is built, else msgspec structs; the reference on refusal. ``decode_path`` says which is
  built, ``took_native_path`` / ``took_msgspec_path`` which share of the records each proved valid;
* ``ingest``: ``stream.ingest.check`` (fast path plus the stream's own schema and time checks), what
  the stream hosts run.

Times are CPU time of this process (``time.process_time``), so a machine shared with other work
still gives per-core figures; the ``speedup`` is measured in the same run and travels between
machines better than the absolute rates.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from itertools import islice
from typing import Any

from benchmarks.stream_engine import T0, events
from schemas.fast_decode import DECODE_PATH, FastDecoder
from schemas.validation import parse_event
from stream.ingest import INPUT_SCHEMAS, IngestConfig, check

MAX_BYTES = IngestConfig().max_bytes


def records(count: int) -> list[bytes]:
    return [json.dumps(event).encode() for event in islice(events(200, 3_600, 3.0), count)]


def rate(run: Callable[[bytes], Any], raw: list[bytes], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        for record in raw:
            run(record)
        best = max(best, len(raw) / (time.process_time() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    raw = records(args.records)
    decoder = FastDecoder(sorted(INPUT_SCHEMAS, key=lambda name: name != "face_expression"))
    fast_share = sum(decoder.fast(r) is not None for r in raw) / len(raw)
    paths = Counter(decoder.path_of(r) for r in raw)
    reference = rate(lambda r: parse_event(r, max_bytes=MAX_BYTES), raw, args.repeat)
    fast = rate(lambda r: decoder.parse(r, max_bytes=MAX_BYTES), raw, args.repeat)
    ingest = rate(lambda r: check(r, T0), raw, args.repeat)
    print(json.dumps({
        "records": len(raw), "mean_bytes": round(sum(map(len, raw)) / len(raw)),
        "decode_path": DECODE_PATH, "took_fast_path": round(fast_share, 4),
        "took_native_path": round(paths["native"] / len(raw), 4),
        "took_msgspec_path": round(paths["msgspec"] / len(raw), 4),
        "reference_records_per_s": round(reference), "fast_records_per_s": round(fast),
        "ingest_records_per_s": round(ingest), "speedup": round(fast / reference, 1)}, indent=1))


if __name__ == "__main__":
    main()
