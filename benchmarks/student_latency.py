"""Latency of candidate student architectures, fp32 against int8, single view, batch 1, one core.

    taskset -c 0 .venv/bin/python benchmarks/student_latency.py [--candidates compact:32 vgg:16 ...]

Each candidate is exported with untrained weights (latency does not depend on the values) the way
training exports (pixels 0..255 in, probabilities out), quantized the way `training.publish`
quantizes, and timed through the edge's ExpressionClassifier, interleaved in rounds so that
other load on the shared cores hits every candidate alike. The files stay in --out, so that
`benchmarks/anchor_latency.py --model FILE` can time them beside the open anchor.
Figures, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import numpy as np
import torch

from edge.expression.classifier import ExpressionClassifier
from training.export import export_onnx
from training.latency import time_per_call_ms
from training.network import build_net
from training.quantize import quantize

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CANDIDATES = ("vgg:32", "vgg:16", "compact-plain:24", "compact:32", "compact:40", "compact:48", "residual:16",
                      "residual:20", "residual:24")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", nargs="+", default=list(DEFAULT_CANDIDATES), help="ARCH:WIDTH ...")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "students")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls-per-round", type=int, default=300)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    torch.manual_seed(0)
    calibration = np.random.default_rng(0).integers(0, 256, (256, 48, 48)).astype(np.uint8)
    files: dict[str, tuple[Path, Path, int]] = {}
    for candidate in args.candidates:
        arch, width = candidate.split(":")
        net = build_net(arch, int(width)).eval()
        stem = args.out / f"{arch}{width}"
        fp32, int8 = stem.with_suffix(".fp32.onnx"), stem.with_suffix(".int8.onnx")
        export_onnx(net, fp32, f"candidate-{arch}{width}", "0")
        quantize(fp32, int8, calibration)
        files[candidate] = (fp32, int8, sum(p.numel() for p in net.parameters()))
    sessions = {(c, kind): ExpressionClassifier(path, threads=1)
                for c, (fp32, int8, _) in files.items() for kind, path in (("fp32", fp32), ("int8", int8))}
    face = np.random.default_rng(1).uniform(0, 255, (1, 1, 48, 48)).astype(np.float32)
    timings: dict[tuple[str, str], list[float]] = {key: [] for key in sessions}
    for _ in range(args.rounds):
        for key, classifier in sessions.items():
            timings[key] += time_per_call_ms(classifier, face, args.calls_per_round)
    print(f"{'candidate':18s} {'params':>8s} {'fp32 ms':>8s} {'int8 ms':>8s} {'fp32 MB':>8s} {'int8 MB':>8s}")
    for candidate, (fp32, int8, params) in files.items():
        fp32_ms = statistics.median(timings[(candidate, "fp32")])
        int8_ms = statistics.median(timings[(candidate, "int8")])
        print(f"{candidate:18s} {params / 1e3:7.0f}k {fp32_ms:8.3f} {int8_ms:8.3f} "
              f"{fp32.stat().st_size / 1e6:8.2f} {int8.stat().st_size / 1e6:8.2f}")


if __name__ == "__main__":
    main()
