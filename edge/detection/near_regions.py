"""Where the near search looks: one window per known face, neighbours merged into one window.

Between full searches YuNet looks again around each known face, in a window shrunk so the face is
about `roi_face_px` tall. YuNet's cost grows with the pixels it is shown, plus a fixed cost per
call; in a crowd the windows of neighbouring faces overlap, so looking at each one alone pays for
the shared pixels twice and for many calls (20 faces at 1280x720: ~45 ms a frame, most of the
frame's time). Two windows are merged into their bounding window when that costs less than the
two apart, and only when their faces are of similar size (a merged window is shrunk for its
smallest face, so the larger ones are shown somewhat larger than `roi_face_px`, never smaller).
Pure geometry: no detector, no OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.detection.detections import SearchRegion

CALL_PX = 2_000  # YuNet's fixed cost per call in shown pixels: an estimate (~0.3 ms; a pixel costs ~0.17 us)
MAX_SIZE_RATIO = 1.5  # faces more different in size than this are not looked for in one window


@dataclass(frozen=True)
class NearWindow:
    left: int
    top: int
    right: int
    bottom: int
    factor: float  # the window is resized by this before YuNet sees it
    faces: tuple[int, ...]  # indices of the known faces it looks for
    smallest: float  # the smallest known face's size (frame pixels)
    largest: float

    @property
    def cost(self) -> float:
        return _cost(self.right - self.left, self.bottom - self.top, self.factor)


def _cost(width: Any, height: Any, factor: Any) -> Any:
    """What YuNet pays for a window (numbers or numpy arrays of them), in shown pixels."""
    return width * height * factor ** 2 + CALL_PX


def windows_for(regions: Sequence[SearchRegion], factors: Sequence[float], merge: bool = True) -> list[NearWindow]:
    """One window per region (`factors`: each one's resize), then, with `merge`, the pair whose merge
    saves most merged, again and again while a merge saves anything. Deterministic: ties go to the
    lowest indices. Vectorised over pairs, rows updated in place: a crowd of 20 costs ~0.7 ms."""
    if not merge or len(regions) < 2:  # nothing to merge: no arrays (one face is the common case)
        return [NearWindow(r.left, r.top, r.right, r.bottom, f, (i,), r.size, r.size)
                for i, (r, f) in enumerate(zip(regions, factors, strict=True))]
    box = np.array([(r.left, r.top, r.right, r.bottom) for r in regions], dtype=np.float64).reshape(-1, 4)
    factor = np.array(factors, dtype=np.float64)
    smallest = np.array([r.size for r in regions], dtype=np.float64)
    largest = smallest.copy()
    members = [[i] for i in range(len(regions))]
    alive = np.ones(len(regions), dtype=bool)
    cost = _cost(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1], factor)
    upper = np.triu(np.ones((len(regions), len(regions)), dtype=bool), 1)
    while alive.sum() > 1:
        width = np.maximum(box[:, None, 2], box[None, :, 2]) - np.minimum(box[:, None, 0], box[None, :, 0])
        height = np.maximum(box[:, None, 3], box[None, :, 3]) - np.minimum(box[:, None, 1], box[None, :, 1])
        saving = cost[:, None] + cost[None, :] - _cost(width, height, np.maximum(factor[:, None], factor[None, :]))
        alike = np.maximum(largest[:, None], largest[None, :]) <= MAX_SIZE_RATIO * np.minimum(
            smallest[:, None], smallest[None, :])
        saving = np.where(alike & upper & alive[:, None] & alive[None, :], saving, -np.inf)
        i, j = np.unravel_index(int(np.argmax(saving)), saving.shape)
        if saving[i, j] <= 0:
            break
        box[i] = (min(box[i, 0], box[j, 0]), min(box[i, 1], box[j, 1]), max(box[i, 2], box[j, 2]),
                  max(box[i, 3], box[j, 3]))
        factor[i] = max(factor[i], factor[j])
        smallest[i], largest[i] = min(smallest[i], smallest[j]), max(largest[i], largest[j])
        cost[i] = _cost(box[i, 2] - box[i, 0], box[i, 3] - box[i, 1], factor[i])
        members[i] += members[j]
        alive[j] = False
    windows = [NearWindow(int(box[k, 0]), int(box[k, 1]), int(box[k, 2]), int(box[k, 3]), float(factor[k]),
                          tuple(sorted(members[k])), float(smallest[k]), float(largest[k]))
               for k in np.flatnonzero(alive)]
    return sorted(windows, key=lambda w: w.faces)
