"""YuNet vs Haar vs dlib HOG face detection on the sample clips: recall on face frames, false detections on
frames without a face, and time per frame, each detector scanning every frame in full.

    taskset -c 0 .venv/bin/python benchmarks/detector_comparison.py

Face/no-face segments were read off the frames (see data/video/ATTRIBUTION.md). A face frame counts
as found when at least one box covers its centre region; on a no-face frame every box is false.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.detection.detections import Detections
from edge.detection.haar import HaarFaceDetector, HaarSettings

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO / "data" / "video"

# (file, face frame range, no-face frame ranges), 0-based inclusive.
CLIPS: list[tuple[str, range | None, list[range]]] = [
    ("WolfgangLanger_Pexels.mp4", range(0, 472), []),
    ("single_face.mp4", range(0, 72), []),
    ("face_noface.mov", range(0, 72), [range(72, 169)]),
    ("noface_face.mov", range(96, 168), [range(0, 96), range(168, 169)]),
]


@dataclass
class Tally:
    face_frames: int = 0
    found: int = 0
    noface_frames: int = 0
    false_boxes: int = 0
    noface_frames_with_box: int = 0
    seconds: float = 0.0
    frames: int = 0
    per_clip: dict[str, str] = field(default_factory=dict)


def read_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    capture.release()
    return frames


def measure(detect: Callable[[np.ndarray], Detections], clips: dict[str, list[np.ndarray]]) -> Tally:
    tally = Tally()
    for name, faces, nofaces in CLIPS:
        frames = clips[name]
        found = false = 0
        for index, gray in enumerate(frames):
            start = time.perf_counter()
            boxes = detect(gray)
            tally.seconds += time.perf_counter() - start
            tally.frames += 1
            if faces is not None and index in faces:
                tally.face_frames += 1
                found += bool(len(boxes))
            elif any(index in r for r in nofaces):
                tally.noface_frames += 1
                tally.false_boxes += len(boxes)
                tally.noface_frames_with_box += bool(len(boxes))
                false += len(boxes)
        tally.found += found
        face_count = len(faces) if faces is not None else 0
        noface_count = sum(len(r) for r in nofaces)
        tally.per_clip[name] = f"{found}/{face_count} found" + (f", {false} false on {noface_count}" if nofaces else "")
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[320, 480])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clips = {name: read_frames(VIDEO / name) for name, _, _ in CLIPS}
    detectors: list[tuple[str, Callable[[np.ndarray], Detections]]] = []
    try:  # a full search as the edge runs it (coarse pass, the next finer or turned tile every 2nd search)
        from edge.detection.yunet import YuNetFaceDetector

        detectors.append(("yunet full search", YuNetFaceDetector().detect))
    except Exception as error:  # the others are still compared
        print(f"yunet skipped: {error}")
    for width in args.widths:
        detectors.append((f"haar default  w{width}", HaarFaceDetector(HaarSettings(detect_width=width)).detect))
        detectors.append((f"haar alt2     w{width}", HaarFaceDetector(
            HaarSettings(cascade="haarcascade_frontalface_alt2.xml", detect_width=width)).detect))
    try:
        from edge.detection.hog import HogFaceDetector

        for width in args.widths:
            detectors.append((f"dlib HOG      w{width}", HogFaceDetector(detect_width=width).detect))
    except ValueError as error:
        print(f"dlib HOG skipped: {error}")
    # The clips show one large face (a quarter to three quarters of the frame height); a shop camera
    # sees smaller ones, so the group photo (5 faces of 100-135 px in 1000 px) checks small-face reach.
    photo = cv2.imread(str(VIDEO / "multi_face.jpg"))
    if photo is None:
        raise SystemExit(f"missing {VIDEO / 'multi_face.jpg'}")
    group = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    print(f"{'detector':22} {'recall':>14} {'false boxes':>12} {'no-face frames w/ box':>22} {'ms/frame':>9}"
          f" {'group photo':>12}")
    for label, detect in detectors:
        t = measure(detect, clips)
        group_faces = len(detect(group))
        print(f"{label:22} {t.found:>5}/{t.face_frames:<4} {t.found / t.face_frames:5.1%} {t.false_boxes:>6}/"
              f"{t.noface_frames:<5} {t.noface_frames_with_box:>15}/{t.noface_frames:<6} "
              f"{1000 * t.seconds / t.frames:9.2f} {group_faces:>8} of 5")
        print("    " + "; ".join(f"{k}: {v}" for k, v in t.per_clip.items()))


if __name__ == "__main__":
    main()
