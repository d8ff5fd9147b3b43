"""Column-style detections (after supervision's `Detections`): one numpy array per attribute.

The record flows detector → zone mask → quality gate → tracker → annotator; every stage keeps
rows aligned and returns a new record rather than mutating one it was given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


def _empty_boxes() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float32)


@dataclass(frozen=True)
class Detections:
    xyxy: np.ndarray = field(default_factory=_empty_boxes)  # (N, 4) float32 pixels: x1, y1, x2, y2
    confidence: np.ndarray | None = None  # (N,) float32, detector score where it has one

    def __post_init__(self) -> None:
        boxes = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        object.__setattr__(self, "xyxy", boxes)
        if self.confidence is not None:
            scores = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
            if len(scores) != len(boxes):
                raise ValueError(f"confidence has {len(scores)} rows, xyxy has {len(boxes)}")
            object.__setattr__(self, "confidence", scores)
        if len(boxes) and bool(np.any(boxes[:, 2:] < boxes[:, :2])):
            raise ValueError("every box needs x2 >= x1 and y2 >= y1")

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        scores = None if self.confidence is None else self.confidence[index]
        return Detections(self.xyxy[index], scores)

    @classmethod
    def from_xywh(cls, boxes: np.ndarray, confidence: np.ndarray | None = None) -> Detections:
        """From OpenCV's (x, y, w, h) rows."""
        xywh = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        return cls(np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1), confidence)

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        if not parts:
            return cls()
        boxes = np.concatenate([p.xyxy for p in parts])
        if all(p.confidence is not None for p in parts):
            return cls(boxes, np.concatenate([p.confidence for p in parts if p.confidence is not None]))
        return cls(boxes)

    def scaled(self, factor: float, offset: tuple[float, float] = (0.0, 0.0)) -> Detections:
        """Boxes mapped from a resized (and offset) image back to the original: p / factor + offset."""
        shift = np.array([offset[0], offset[1], offset[0], offset[1]], dtype=np.float32)
        return Detections(self.xyxy / np.float32(factor) + shift, self.confidence)

    @property
    def centers(self) -> np.ndarray:
        return (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2

    @property
    def heights(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of xyxy boxes."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def suppress_overlaps(detections: Detections, iou_threshold: float = 0.3) -> Detections:
    """Keeps the larger of boxes that overlap (ROI re-detects can find one face twice)."""
    if len(detections) < 2:
        return detections
    order = np.argsort(-np.prod(detections.xyxy[:, 2:] - detections.xyxy[:, :2], axis=1))
    keep: list[int] = []
    for i in order:
        if not keep or box_iou(detections.xyxy[i], detections.xyxy[keep]).max() < iou_threshold:
            keep.append(int(i))
    return detections[sorted(keep)]


@dataclass(frozen=True)
class SearchRegion:
    """Where to look again for a face known at `size` pixels: a clipped window around its box."""

    left: int
    top: int
    right: int
    bottom: int
    size: float


def regions_around(boxes: np.ndarray, frame_shape: tuple[int, ...], margin: float,
                   min_side: int) -> Iterator[SearchRegion]:
    """One region per known box (xyxy), grown by `margin` box sizes, clipped to the frame; regions
    narrower than `min_side` (the detector's smallest window) are skipped."""
    height, width = frame_shape[:2]
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float32).reshape(-1, 4):
        size = max(float(y2 - y1), float(x2 - x1), 1.0)
        grow = margin * size
        left, top = max(0, int(x1 - grow)), max(0, int(y1 - grow))
        right, bottom = min(width, int(x2 + grow)), min(height, int(y2 + grow))
        if right - left >= min_side and bottom - top >= min_side:
            yield SearchRegion(left, top, right, bottom, size)


class FaceDetector(Protocol):
    """What the pipeline needs of a detector (Haar, HOG, YuNet: `edge.detection.choice`)."""

    def detect(self, gray: np.ndarray) -> Detections:
        """Faces in a full-resolution gray frame, boxes in that frame's pixels."""
        ...

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray) -> Detections:
        """Faces near known boxes (xyxy): the cheap re-detect between full scans."""
        ...
