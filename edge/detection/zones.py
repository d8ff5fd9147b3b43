"""Zone masks: areas left out of detection (a staff counter) and named areas reported in events.

Polygons are in normalised frame coordinates (0..1) so one configuration fits any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.detection.detections import Detections
from schemas.validation import identifier_problem


def parse_polygon(text: str) -> np.ndarray:
    """'x1,y1,x2,y2' (a rectangle) or 'x1,y1,x2,y2,x3,y3,...' (a polygon), normalised 0..1."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"zone {text!r}: expected comma-separated numbers") from None
    if len(values) == 4:
        x1, y1, x2, y2 = values
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"zone {text!r}: a rectangle needs x1 < x2 and y1 < y2")
        values = [x1, y1, x2, y1, x2, y2, x1, y2]
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f"zone {text!r}: need 4 numbers (rectangle) or 3+ x,y pairs (polygon), got {len(values)}")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"zone {text!r}: coordinates are fractions of the frame, 0..1")
    return np.array(values, dtype=np.float32).reshape(-1, 2)


def parse_named_zone(text: str) -> tuple[str, np.ndarray]:
    """'name=x1,y1,x2,y2[,...]'."""
    name, sep, polygon = text.partition("=")
    if not sep:
        raise ValueError(f"zone {text!r}: expected NAME=x1,y1,x2,y2")
    if why := identifier_problem(name):
        raise ValueError(f"zone {text!r}: name {why}")
    return name, parse_polygon(polygon)


def _inside(polygon: np.ndarray, x: float, y: float) -> bool:
    return cv2.pointPolygonTest(polygon.reshape(-1, 1, 2), (float(x), float(y)), False) >= 0


@dataclass
class ZoneMask:
    exclude: list[np.ndarray] = field(default_factory=list)
    named: dict[str, np.ndarray] = field(default_factory=dict)
    _masks: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.exclude or self.named)

    def _exclusion_mask(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        if key not in self._masks:
            mask = np.full((height, width), 255, dtype=np.uint8)
            scale = np.array([width, height], dtype=np.float32)
            for polygon in self.exclude:
                cv2.fillPoly(mask, [np.round(polygon * scale).astype(np.int32)], 0)
            self._masks[key] = mask
        return self._masks[key]

    def blank(self, gray: np.ndarray) -> np.ndarray:
        """The gray frame with excluded areas blacked out, so no face there is even looked for."""
        if not self.exclude:
            return gray
        return cv2.bitwise_and(gray, self._exclusion_mask(*gray.shape[:2]))

    def keep(self, detections: Detections, width: int, height: int) -> Detections:
        """Drops faces whose centre lies in an excluded area (a box can straddle the edge of one)."""
        if not self.exclude or not len(detections):
            return detections
        centers = detections.centers / np.array([width, height], dtype=np.float32)
        keep = [i for i, (x, y) in enumerate(centers) if not any(_inside(p, x, y) for p in self.exclude)]
        return detections[keep]

    def zone_of(self, x: float, y: float) -> str | None:
        """The first named zone holding the normalised point, or None."""
        return next((name for name, polygon in self.named.items() if _inside(polygon, x, y)), None)
