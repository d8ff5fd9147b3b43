"""dlib's HOG + linear SVM frontal face detector (from the `dlib-bin` wheel), imported only when chosen."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edge.detection.detections import Detections, regions_around, suppress_overlaps

HOG_WINDOW = 80  # dlib's frontal detector scans an 80x80 window: smaller faces need upsampling


class HogFaceDetector:
    def __init__(self, detect_width: int = 320, upsample: int = 0, roi_face_px: int = HOG_WINDOW + 20,
                 roi_margin: float = 0.5) -> None:
        try:
            import dlib
        except ImportError:
            raise ValueError("the HOG detector needs dlib: pip install dlib-bin") from None
        self._detector: Any = dlib.get_frontal_face_detector()
        self.detect_width = detect_width
        self.upsample = upsample
        self.roi_face_px = roi_face_px
        self.roi_margin = roi_margin

    def detect(self, gray: np.ndarray) -> Detections:
        factor = min(1.0, self.detect_width / gray.shape[1])
        return self._run(gray, factor, self.upsample)

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray) -> Detections:
        """Each known box's surroundings, scaled so the face is about `roi_face_px` (above the window)."""
        parts = [self._run(gray[r.top:r.bottom, r.left:r.right], self.roi_face_px / r.size, 0)
                 .scaled(1.0, (r.left, r.top))
                 for r in regions_around(boxes, gray.shape, self.roi_margin, 8)]
        return suppress_overlaps(Detections.merge(parts))

    def _run(self, gray: np.ndarray, factor: float, upsample: int) -> Detections:
        small = gray if factor == 1.0 else cv2.resize(
            gray, (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor))),
            interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        rects, scores, _ = self._detector.run(np.ascontiguousarray(small), upsample, 0.0)
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], dtype=np.float32)
        boxes = boxes.reshape(-1, 4)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, small.shape[1])
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, small.shape[0])
        return Detections(boxes, np.asarray(scores, dtype=np.float32)).scaled(factor)
