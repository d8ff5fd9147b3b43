"""`moodlens label collect`: a sample of a site's own face crops, spread over hours and expressions.

The edge's frame loop offers each usable crop it classifies (`edge.ports.CropSink`); the sampler keeps
few of them: at most one per track (one visit, one face), at most ``cell_cap`` per (hour of day,
the edge model's top class), at least ``min_gap_ms`` apart on one camera, until ``per_camera`` are
kept. Kept crops are the 48x48 grey face the model reads, JPEG-encoded, written only into the
encrypted crop store (`training.labeling.crops`), never anywhere else, and never whole frames. A
crop's id is its camera and a random token, never its time: the id travels in the labeling manifests.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import cv2
import numpy as np

from schemas.expressions import EXPRESSIONS
from training.labeling.crops import CropStore

T = TypeVar("T")
CROP_SIDE = 48  # what the expression model reads
OPEN_HOURS = 12  # how many hours of a day the quota is spread over, at most


class CropSampler:
    def __init__(self, store: CropStore, site_id: str, camera_id: str, per_camera: int,
                 min_gap_ms: int = 10_000) -> None:
        if per_camera < 1:
            raise ValueError(f"--per-camera must be at least 1, got {per_camera}")
        self.store, self.site_id, self.camera_id = store, site_id, camera_id
        self.per_camera, self.min_gap_ms = per_camera, min_gap_ms
        self.cell_cap = max(1, math.ceil(per_camera / (len(EXPRESSIONS) * OPEN_HOURS)))
        self.cells: Counter[tuple[int, str]] = Counter()
        self.tracks: set[str] = set()
        self.kept = 0
        self._last_ms: int | None = None

    @property
    def full(self) -> bool:
        return self.kept >= self.per_camera

    def until_full(self, frames: Iterable[T]) -> Iterator[T]:
        """The frames, until the quota is kept (the camera is not read longer than needed)."""
        for frame in frames:
            if self.full:
                return
            yield frame

    def offer(self, track_id: str, time_ms: int, crop: Any, probabilities: Any) -> None:
        if self.full or track_id in self.tracks:
            return
        if self._last_ms is not None and time_ms - self._last_ms < self.min_gap_ms:
            return
        top = EXPRESSIONS[int(np.argmax(probabilities))]
        cell = (dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).hour, top)
        if self.cells[cell] >= self.cell_cap:
            return
        face = cv2.resize(np.asarray(crop), (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            return
        # random, not the time: the manifests that carry the id give only the day
        crop_id = f"{self.camera_id}-{secrets.token_hex(8)}".replace(":", "_").replace(".", "_")
        self.store.add(crop_id, jpeg.tobytes(), self.site_id, self.camera_id, time_ms,
                       [float(p) for p in probabilities])
        self.cells[cell] += 1
        self.tracks.add(track_id)
        self.kept += 1
        self._last_ms = time_ms
