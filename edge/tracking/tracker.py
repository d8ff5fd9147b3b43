"""IoU tracker with constant-velocity prediction, so one person in view stays one track.

Matching is greedy, first on overlap with each track's predicted box, then on centre distance for
fast movers; a track survives `max_gap_ms` without a detection (a waiter walking past) before it
ends. Times are in milliseconds rather than frames so the behaviour does not change with frame rate.
Ids are anonymous: a per-run random prefix and a counter, never derived from the face.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from edge.detection.detections import Detections, box_iou

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def random_prefix(length: int = 5) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class TrackerSettings:
    iou_threshold: float = 0.2
    max_center_shift: float = 1.0  # in box heights, for a match without overlap
    max_gap_ms: int = 1000  # occlusion tolerance
    min_hits: int = 3  # detections before a track counts (one-frame false detections never do)
    max_predict_ms: int = 500  # beyond this, a lost track stops moving along its last velocity
    velocity_smoothing: float = 0.5  # weight of the previous velocity estimate

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold < 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1), got {self.iou_threshold}")
        if self.max_gap_ms < 0 or self.min_hits < 1:
            raise ValueError("max_gap_ms must be >= 0 and min_hits >= 1")


@dataclass
class Track:
    track_id: str
    box: np.ndarray  # xyxy of the latest detection
    first_ms: int
    last_seen_ms: int
    hits: int = 1  # frames the face was detected in
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float32))  # px/ms of the centre
    detection_index: int | None = 0  # row in the latest Detections, None when not seen this frame

    def predicted_box(self, time_ms: int, max_predict_ms: int) -> np.ndarray:
        dt = min(max(0, time_ms - self.last_seen_ms), max_predict_ms)
        shift = self.velocity * dt
        return self.box + np.array([shift[0], shift[1], shift[0], shift[1]], dtype=np.float32)

    @property
    def duration_ms(self) -> int:
        return self.last_seen_ms - self.first_ms


@dataclass(frozen=True)
class TrackerStep:
    active: list[Track]  # confirmed tracks still open (seen now or within the gap)
    ended: list[Track]  # confirmed tracks that closed at this step


class Tracker:
    def __init__(self, settings: TrackerSettings | None = None, id_prefix: str | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._prefix = id_prefix if id_prefix is not None else random_prefix()
        self._next = 1
        self._tracks: list[Track] = []
        self._last_ms: int | None = None

    @property
    def tracks(self) -> list[Track]:
        """Every open track, tentative ones included."""
        return list(self._tracks)

    def confirmed(self) -> list[Track]:
        return [t for t in self._tracks if t.hits >= self.settings.min_hits]

    def predicted_boxes(self, time_ms: int) -> np.ndarray:
        boxes = [t.predicted_box(time_ms, self.settings.max_predict_ms) for t in self._tracks]
        return np.array(boxes, dtype=np.float32).reshape(-1, 4)

    def update(self, detections: Detections, time_ms: int) -> TrackerStep:
        if self._last_ms is not None and time_ms < self._last_ms:
            raise ValueError(f"time went backwards: {time_ms} ms after {self._last_ms} ms")
        self._last_ms = time_ms
        pairs = self._match(detections, time_ms)
        matched_tracks = {t for t, _ in pairs}
        matched_detections = {d for _, d in pairs}
        for track_index, detection_index in pairs:
            self._observe(self._tracks[track_index], detections.xyxy[detection_index], detection_index, time_ms)
        ended: list[Track] = []
        kept: list[Track] = []
        for i, track in enumerate(self._tracks):
            if i not in matched_tracks:
                track.detection_index = None
                if time_ms - track.last_seen_ms > self.settings.max_gap_ms:
                    if track.hits >= self.settings.min_hits:
                        ended.append(track)
                    continue
            kept.append(track)
        for d in range(len(detections)):
            if d not in matched_detections:
                kept.append(Track(self._new_id(), detections.xyxy[d].copy(), time_ms, time_ms, detection_index=d))
        self._tracks = kept
        return TrackerStep(self.confirmed(), ended)

    def close_all(self) -> list[Track]:
        """Ends every confirmed track (the source ended or the process stops)."""
        ended = self.confirmed()
        self._tracks = []
        return ended

    def _new_id(self) -> str:
        track_id = f"{self._prefix}-{self._next}"
        self._next += 1
        return track_id

    def _observe(self, track: Track, box: np.ndarray, detection_index: int, time_ms: int) -> None:
        dt = time_ms - track.last_seen_ms
        if dt > 0:
            old_center = (track.box[:2] + track.box[2:]) / 2
            new_center = (box[:2] + box[2:]) / 2
            measured = (new_center - old_center) / dt
            w = self.settings.velocity_smoothing if track.hits > 1 else 0.0
            track.velocity = (w * track.velocity + (1 - w) * measured).astype(np.float32)
        track.box = box.astype(np.float32).copy()
        track.last_seen_ms = time_ms
        track.hits += 1
        track.detection_index = detection_index

    def _match(self, detections: Detections, time_ms: int) -> list[tuple[int, int]]:
        if not self._tracks or not len(detections):
            return []
        predicted = self.predicted_boxes(time_ms)
        iou = box_iou(predicted, detections.xyxy)
        pairs: list[tuple[int, int]] = []
        used_t: set[int] = set()
        used_d: set[int] = set()
        # Established tracks choose first on ties so a new false detection cannot steal a customer's id.
        seniority = np.array([t.hits for t in self._tracks], dtype=np.float32)[:, None] * 1e-6
        for flat in np.argsort(-(iou + seniority), axis=None):
            t, d = divmod(int(flat), len(detections))
            if iou[t, d] < self.settings.iou_threshold:
                continue
            if t not in used_t and d not in used_d:
                pairs.append((t, d))
                used_t.add(t)
                used_d.add(d)
        track_centers = (predicted[:, :2] + predicted[:, 2:]) / 2
        heights = np.maximum(predicted[:, 3] - predicted[:, 1], 1.0)
        shift = np.linalg.norm(track_centers[:, None, :] - detections.centers[None, :, :], axis=2) / heights[:, None]
        for flat in np.argsort(shift, axis=None):
            t, d = divmod(int(flat), len(detections))
            if shift[t, d] > self.settings.max_center_shift:
                break
            if t not in used_t and d not in used_d:
                pairs.append((t, d))
                used_t.add(t)
                used_d.add(d)
        return pairs
