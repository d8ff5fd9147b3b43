"""End-to-end edge throughput over every frame of a video, on one core.

    taskset -c 0 .venv/bin/python benchmarks/edge_throughput.py [--model edge/models/expression.onnx]

Runs with the scene-change gate on (the default: due full searches skipped while nothing changed
outside the known faces) and off (a full search every N frames, as before), so both figures show.
Prints frames/s, frames with a face found, time per stage (decode, detect, track, classify,
publish), peak RSS, and events per minute of video per face. Figures, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edge.bench import run_benchmark
from edge.detection.choice import DETECTORS, DetectorChoice, build_detector
from edge.detection.haar import HaarSettings
from edge.detection.scene_change import SceneChangeSettings
from edge.expression.classifier import DEFAULT_MODEL
from edge.pipeline import PipelineSettings
from moodlens import __version__

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=REPO / "data" / "video" / "WolfgangLanger_Pexels.mp4")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--full-detect-every", type=int, nargs="+", default=[4],
                        help="one run per value; 1 = a full search on every frame")
    parser.add_argument("--detect-width", type=int, default=320)
    parser.add_argument("--classify-interval-ms", type=int, default=250)
    parser.add_argument("--detector", choices=DETECTORS, default="yunet")
    parser.add_argument("--scene-change", choices=("on", "off"), nargs="+", default=["on", "off"],
                        help="one run per value: skip due full searches while the picture is unchanged, or not")
    args = parser.parse_args()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"cores available to this process: {affinity or 'unknown'} (run under `taskset -c 0` for one core)")
    for every, gate in ((every, gate) for every in args.full_detect_every for gate in args.scene_change):
        settings = PipelineSettings(full_detect_every=every, classify_interval_ms=args.classify_interval_ms,
                                    scene_change=SceneChangeSettings(enabled=gate == "on"))
        detector, built = build_detector(DetectorChoice(args.detector, args.detect_width))
        result = run_benchmark(args.video, args.model, settings, HaarSettings(detect_width=args.detect_width),
                               detector=detector, edge_version=__version__)
        print(f"\n-- {built}: full-frame detection due every {every} frame(s), scene-change gate {gate}, "
              f"detect width {args.detect_width} px, "
              f"classify each track every {args.classify_interval_ms} ms, model {args.model.name}")
        print(result.report())


if __name__ == "__main__":
    main()
