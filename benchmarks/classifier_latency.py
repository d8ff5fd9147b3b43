"""Milliseconds per face for the expression classifier at batch 1 on one thread.

Run pinned to one core, as the issue asks: `taskset -c 0 .venv/bin/python benchmarks/classifier_latency.py`
(`make bench`). Prints median and 90th percentile over many runs, after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from edge.expression.classifier import DEFAULT_MODEL, ExpressionClassifier
from training.latency import time_per_call_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    classifier = ExpressionClassifier(args.model, threads=1)
    size = classifier.info.input_size
    rng = np.random.default_rng(0)
    print(f"model {args.model} ({args.model.stat().st_size / 1e6:.2f} MB, sha256 {classifier.info.sha256[:12]})")
    for batch_size in (1, 8):
        batch = rng.uniform(0, 255, (batch_size, 1, size, size)).astype(np.float32)
        timings = time_per_call_ms(classifier, batch, max(200, args.runs // batch_size))
        median = statistics.median(timings) / batch_size
        p90 = statistics.quantiles(timings, n=10)[-1] / batch_size
        print(f"batch {batch_size}: {median:.3f} ms per face (median), {p90:.3f} ms (p90)")
    crop = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    timings = []
    for _ in range(500):
        start = time.perf_counter()
        classifier.classify([crop])
        timings.append((time.perf_counter() - start) * 1000)
    print(f"batch 1 incl. preprocessing of a 120x100 BGR crop: {statistics.median(timings):.3f} ms (median)")


if __name__ == "__main__":
    main()
