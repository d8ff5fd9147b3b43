"""Edge frames/s with 1, 5 and 20 faces in view, on one core: detection, tracking and one batched
classifier call for all the faces due.

    PYTHONPATH=. .venv/bin/python benchmarks/crowd_throughput.py      # pins itself to core 0

Each synthetic frame tiles real face crops (from the labelled sample footage) over a real
background; the crops shift a pixel or two each frame, so tracks follow them as they would
follow seated customers. Every face is classified every `--classify-interval-ms` (250 ms by
default, as the edge does): the faces due at a frame go to the classifier together, in one call.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edge.detection.choice import DetectorChoice, build_detector
from edge.detection.yunet import YuNetFaceDetector
from edge.events import EventContext
from edge.expression.classifier import DEFAULT_MODEL, ExpressionClassifier
from edge.frame import Frame
from edge.pipeline import Pipeline, PipelineSettings
from edge.publish.sinks import CountingSink

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO / "benchmarks" / "labels"
VIDEO = REPO / "data" / "video"
T0 = 1_790_000_000_000


def face_crops() -> list[np.ndarray]:
    """Labelled faces of the group photo and the clips, with a margin (hair, chin)."""
    crops = []
    sources = (("multi_face.jpg", "multi_face.json", 0), ("single_face.jpg", "single_face.json", 0),
               ("WolfgangLanger_Pexels.mp4", "WolfgangLanger_Pexels.json", 300))
    for name, label_file, index in sources:
        if name.endswith(".jpg"):
            image = cv2.imread(str(VIDEO / name))
        else:
            capture = cv2.VideoCapture(str(VIDEO / name))
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            image = capture.read()[1]
            capture.release()
        if image is None:
            raise SystemExit(f"cannot read {VIDEO / name}")
        for x1, y1, x2, y2 in json.loads((LABELS / label_file).read_text())["frames"][str(index)]:
            w, h = x2 - x1, y2 - y1
            crops.append(image[max(0, y1 - h // 4):y2 + h // 8, max(0, x1 - w // 4):x2 + w // 4])
    return crops


def crowd_frames(faces: int, count: int, width: int, height: int) -> list[Frame]:
    capture = cv2.VideoCapture(str(VIDEO / "WolfgangLanger_Pexels.mp4"))
    wall = capture.read()[1][:, :240]  # the wooden wall left of the face: a real background, no face
    capture.release()
    background = cv2.resize(wall, (width, height))
    crops = face_crops()
    columns = int(np.ceil(np.sqrt(faces * width / height)))
    rows = int(np.ceil(faces / columns))
    cell_w, cell_h = width // columns, height // rows
    size = min(cell_h * 0.8, cell_w * 0.8 * 1.2)
    frames = []
    for index in range(count):
        canvas = background.copy()
        for face in range(faces):
            crop = crops[face % len(crops)]
            scaled = cv2.resize(crop, (int(size * crop.shape[1] / crop.shape[0]), int(size)))
            scaled = scaled[:, :cell_w - 4]
            sway = int(2 * np.sin(index / 5 + face))
            top = (face // columns) * cell_h + (cell_h - scaled.shape[0]) // 2 + sway
            left = (face % columns) * cell_w + (cell_w - scaled.shape[1]) // 2
            top, left = max(0, top), max(0, left)
            canvas[top:top + scaled.shape[0], left:left + scaled.shape[1]] = scaled[:height - top, :width - left]
        frames.append(Frame(canvas, index, T0 + index * 40))
    return frames


class CountingModel:
    """The classifier, recording how many faces each call carried."""

    def __init__(self, classifier: ExpressionClassifier) -> None:
        self.classifier = classifier
        self.batches: list[int] = []

    def classify(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        self.batches.append(len(crops))
        return self.classifier.classify(crops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--frames", type=int, default=100, help="frames per run (25 frames/s timeline)")
    parser.add_argument("--size", default="1280x720", help="frame size (default 1280x720: room for 20 faces)")
    parser.add_argument("--detector", default="yunet", choices=("yunet", "haar", "hog"))
    parser.add_argument("--classify-interval-ms", type=int, default=250)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--all-cores", action="store_true", help="do not pin to core 0")
    parser.add_argument("--near", choices=("merged", "apart"), nargs="+", default=["merged", "apart"],
                        help="yunet: one run per value: neighbours' near windows merged where cheaper, or each apart")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    cv2.setNumThreads(1)
    width, height = (int(v) for v in args.size.split("x"))
    classifier = ExpressionClassifier(args.model, threads=1)
    print(f"{args.detector} detector, {width}x{height}, classify each face every {args.classify_interval_ms} ms, "
          f"{args.frames} frames; times are CPU seconds of this process (one core)")
    print(f"{'near':>6} {'faces':>5} {'frames/s':>9} {'found/frame':>12} {'batches':>8} {'faces/batch':>12} "
          f"{'classify ms/frame':>18} {'detect ms/frame':>16}")
    for faces, near in ((faces, near) for faces in args.faces for near in args.near):
        frames = crowd_frames(faces, args.frames, width, height)
        detector, _ = build_detector(DetectorChoice(args.detector))
        if isinstance(detector, YuNetFaceDetector):
            detector.settings = replace(detector.settings, merge_near=near == "merged")
        counting = CountingModel(classifier)
        batches = counting.batches
        context = EventContext("bench", "crowd", classifier.info.model_id, classifier.info.version, "bench")
        pipeline = Pipeline(detector, counting, CountingSink(), context,
                            settings=PipelineSettings(classify_interval_ms=args.classify_interval_ms))
        start = time.process_time()
        stats = pipeline.run(frames)
        seconds = time.process_time() - start
        classify_ms, detect_ms = (1000 * stats.stage_s[stage] / stats.frames for stage in ("classify", "detect"))
        print(f"{near:>6} {faces:>5} {stats.frames / seconds:>9.1f} {stats.faces / stats.frames:>12.1f} "
              f"{len(batches):>8} {np.mean(batches) if batches else 0:>12.1f} {classify_ms:>18.2f} {detect_ms:>16.2f}")


if __name__ == "__main__":
    main()
