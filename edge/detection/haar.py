"""OpenCV Haar cascade face detector, run on a downscaled gray frame to stay cheap on one core."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.detection.detections import Detections, regions_around, suppress_overlaps

HAAR_MIN_WINDOW = 24  # the frontal cascades' training window; nothing smaller can be found


@dataclass(frozen=True)
class HaarSettings:
    cascade: str = "haarcascade_frontalface_default.xml"  # a file in cv2.data.haarcascades, or a path
    detect_width: int = 320  # frames are shrunk to this width before the full-frame scan
    scale_factor: float = 1.15
    min_neighbors: int = 4
    min_face_px: int = 24  # in the shrunk frame
    # Re-detection near a known track: the region is the box grown by this share of its height on
    # each side, shrunk so the face is about `roi_face_px` tall, and only scales around it are tried.
    roi_margin: float = 0.5
    roi_face_px: int = 48

    def __post_init__(self) -> None:
        if self.detect_width < 64:
            raise ValueError(f"detect_width {self.detect_width} is too small; use 64 px or more")
        if self.scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be above 1, got {self.scale_factor}")
        if self.min_neighbors < 0:
            raise ValueError(f"min_neighbors must be 0 or more, got {self.min_neighbors}")
        if self.min_face_px < HAAR_MIN_WINDOW:
            raise ValueError(f"min_face_px {self.min_face_px} is below the cascade window {HAAR_MIN_WINDOW}")


def resolve_cascade(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    bundled = Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]
    if bundled.is_file():
        return bundled
    choices = sorted(p.name for p in Path(cv2.data.haarcascades).glob("haarcascade_*face*.xml"))  # type: ignore[attr-defined]
    raise ValueError(f"Haar cascade {name!r} is neither a file nor bundled with OpenCV; bundled: {', '.join(choices)}")


class HaarFaceDetector:
    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        path = resolve_cascade(self.settings.cascade)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ValueError(f"Haar cascade {path} could not be loaded")

    def detect(self, gray: np.ndarray) -> Detections:
        """Every face in a full-resolution gray frame; boxes in that frame's pixels."""
        s = self.settings
        factor = min(1.0, s.detect_width / gray.shape[1])
        small = gray if factor == 1.0 else cv2.resize(
            gray, (round(gray.shape[1] * factor), round(gray.shape[0] * factor)), interpolation=cv2.INTER_AREA)
        found = self._cascade.detectMultiScale(
            small, scaleFactor=s.scale_factor, minNeighbors=s.min_neighbors, minSize=(s.min_face_px, s.min_face_px))
        return Detections.from_xywh(np.asarray(found).reshape(-1, 4)).scaled(factor)

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray) -> Detections:
        """Faces close to known boxes (xyxy, frame pixels), at only the scales near each box's size."""
        s = self.settings
        parts = []
        for r in regions_around(boxes, gray.shape, s.roi_margin, HAAR_MIN_WINDOW):
            factor = min(1.0, s.roi_face_px / r.size)
            region = gray[r.top:r.bottom, r.left:r.right]
            if factor < 1.0:
                region = cv2.resize(region, (max(1, round(region.shape[1] * factor)),
                                             max(1, round(region.shape[0] * factor))), interpolation=cv2.INTER_AREA)
            expected = r.size * factor
            smallest = max(HAAR_MIN_WINDOW, int(expected * 0.6))
            largest = max(smallest + 1, int(expected * 1.6))
            found = self._cascade.detectMultiScale(
                region, scaleFactor=s.scale_factor, minNeighbors=s.min_neighbors,
                minSize=(smallest, smallest), maxSize=(largest, largest))
            parts.append(Detections.from_xywh(np.asarray(found).reshape(-1, 4)).scaled(factor, (r.left, r.top)))
        return suppress_overlaps(Detections.merge(parts))
