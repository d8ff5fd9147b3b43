"""Whether a due full search can find anything new: has the picture changed outside the known faces?

A full search (YuNet's coarse pass plus the next tile) costs about 20 ms at 640x360 on one core,
twenty times a search near a known face. A face the full search has not found yet can only
appear where the picture changes: somebody walks in, turns round, lifts a hand from their face.
Where nothing has changed since the last full search outside the faces already followed, that
search would see the same pixels and find the same faces (the detector is deterministic), so it is
skipped and the near searches carry on. The comparison is always against the picture of the last
full search, not the previous frame, so a slow change (someone edging into view) adds up until it
counts. Lighting changes and camera noise only ever cause extra searches, never fewer. However
still the scene, a full search still runs every `quiet_search_ms` (a safety net: a face the
detector just missed, a borderline score), so the tile rotation keeps turning.

Measured on the sample footage (benchmarks/edge_throughput.py prints both): a talking head in
front of a still background; with the gate the full searches fall from one every 4 frames to
about one a second, and nothing found changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.detection.detections import regions_around


@dataclass(frozen=True)
class SceneChangeSettings:
    enabled: bool = True
    thumbnail_width: int = 80  # the picture is compared at this width (8 px cells at 640x360)
    # A cell counts as changed past this mean gray difference (0..255). Compression noise on still
    # footage stays under 6 at 80 cells across (the sample clips); a face turning or entering moves
    # cells by 20 and more.
    level: int = 12
    cells: int = 2  # changed cells (outside the known faces) that make a full search worth it
    face_margin: float = 0.5  # around each known face (box sizes) changes are the near search's business
    quiet_search_ms: int = 1000  # however still the scene, a full search at least this often

    def __post_init__(self) -> None:
        if self.thumbnail_width < 8:
            raise ValueError(f"thumbnail_width must be 8 or more, got {self.thumbnail_width}")
        if not 0 <= self.level <= 255:
            raise ValueError(f"level is a gray difference 0..255, got {self.level}")
        if self.cells < 1 or self.quiet_search_ms < 1 or self.face_margin < 0:
            raise ValueError("cells and quiet_search_ms must be 1 or more, face_margin 0 or more")


class SceneChange:
    """Remembers the picture at the last full search and says whether the next one is worth running."""

    def __init__(self, settings: SceneChangeSettings | None = None) -> None:
        self.settings = settings or SceneChangeSettings()
        self._reference: np.ndarray | None = None
        self._searched_ms: int | None = None
        self._size: tuple[int, ...] = ()

    def searched(self, gray: np.ndarray, time_ms: int) -> None:
        """A full search ran on `gray`: it becomes the picture later frames are compared with."""
        self._reference = self._thumbnail(gray)
        self._searched_ms = time_ms
        self._size = gray.shape[:2]

    def reset(self) -> None:
        """The picture changed size or source: the next full search runs whatever it shows."""
        self._reference = self._searched_ms = None

    def search_needed(self, gray: np.ndarray, known_boxes: np.ndarray, time_ms: int) -> bool:
        """True when a full search could find something the last one did not: the picture changed
        outside the known faces (xyxy boxes, frame pixels), or the last full search is too old."""
        s = self.settings
        if not s.enabled or self._reference is None or self._searched_ms is None or gray.shape[:2] != self._size:
            return True
        if not 0 <= time_ms - self._searched_ms < s.quiet_search_ms:
            return True  # too long ago (or time went backwards: a new file, a clock step)
        thumbnail = self._thumbnail(gray)
        changed = np.abs(thumbnail - self._reference) > s.level
        scale = thumbnail.shape[1] / gray.shape[1]
        for region in regions_around(np.asarray(known_boxes, np.float32) * scale, thumbnail.shape,
                                     s.face_margin, 1):
            changed[region.top:region.bottom + 1, region.left:region.right + 1] = False
        return int(np.count_nonzero(changed)) >= s.cells

    def _thumbnail(self, gray: np.ndarray) -> np.ndarray:
        height, width = gray.shape[:2]
        small_width = min(width, self.settings.thumbnail_width)
        size = (small_width, max(1, round(height * small_width / width)))
        step = width // (4 * small_width)
        if step > 1:  # a huge frame: every cell still averages 16 pixels or more, at a fraction of the cost
            gray = gray[::step, ::step]
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.int16)
