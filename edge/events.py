"""Builds `face_expression` events: one voice per customer, not one per frame.

Each confirmed track gets a `track_update` at most once per `update_interval_ms` while it is in view
(probabilities smoothed over about the last second) and one `track_end` summary when it leaves (the
mean over the whole visit: the customer's one vote), so the event rate follows the number of people,
never the frame rate. Events carry numbers only: a normalised box, quality figures, probabilities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.quality import FaceQuality
from edge.tracking.smoothing import ExpressionSmoother
from edge.tracking.tracker import Track
from schemas.contract import FACE_EXPRESSION
from schemas.expressions import EXPRESSIONS, top_class, valence
from schemas.ids import new_event_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventContext:
    site_id: str
    camera_id: str
    model_id: str
    model_version: str
    edge_version: str  # the software's version, passed in by whoever runs the edge


@dataclass
class TrackSentiment:
    """What one track has told us so far."""

    smoother: ExpressionSmoother
    quality: FaceQuality | None = None  # of the latest crop that fed `probabilities`
    usable: bool = False  # whether `probabilities` come from faces that passed the gate
    raw: np.ndarray | None = None  # latest classification of a crop that failed the gate
    last_classified_ms: int | None = None
    last_update_ms: int | None = None
    box: dict[str, float] = field(default_factory=dict)
    zone: str | None = None
    usable_sum: np.ndarray | None = None  # of every usable classification: the whole visit's mean
    usable_count: int = 0

    @property
    def probabilities(self) -> np.ndarray | None:
        """Now: smoothed over the last second or so (what track_update reports)."""
        return self.smoother.value if self.usable else self.raw

    @property
    def visit_probabilities(self) -> np.ndarray | None:
        """The whole visit: the mean over every usable face (what track_end reports, the customer's vote)."""
        if self.usable_sum is None or not self.usable_count:
            return self.raw
        return self.usable_sum / self.usable_count


def normalised_box(xyxy: np.ndarray, width: int, height: int) -> dict[str, float]:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    x1, x2 = min(max(x1 / width, 0.0), 1.0), min(max(x2 / width, 0.0), 1.0)
    y1, y2 = min(max(y1 / height, 0.0), 1.0), min(max(y2 / height, 0.0), 1.0)
    return {"x": round(x1, 4), "y": round(y1, 4), "w": round(max(0.0, x2 - x1), 4), "h": round(max(0.0, y2 - y1), 4)}


def shares(probabilities: np.ndarray) -> dict[str, float]:
    values = np.clip(np.asarray(probabilities, dtype=np.float64).reshape(-1), 0.0, None)
    if len(values) != len(EXPRESSIONS) or not np.isfinite(values).all() or values.sum() <= 0:
        raise ValueError(f"expected {len(EXPRESSIONS)} finite non-negative probabilities, got {values.tolist()}")
    values /= values.sum()
    return {name: round(float(v), 4) for name, v in zip(EXPRESSIONS, values, strict=True)}


def face_expression_event(context: EventContext, track_id: str, kind: str, time_ms: int,
                          box: dict[str, float], quality: FaceQuality, usable: bool, probabilities: np.ndarray,
                          zone: str | None = None, duration_ms: int | None = None,
                          frame_count: int | None = None) -> dict[str, Any]:
    probs = shares(probabilities)
    quality_field = quality.as_event_field()
    quality_field["usable"] = usable
    event: dict[str, Any] = {
        "schema": FACE_EXPRESSION.name, "schema_version": FACE_EXPRESSION.version,
        "event_id": new_event_id(time_ms), "site_id": context.site_id, "event_time_ms": time_ms,
        "camera_id": context.camera_id, "zone": zone, "track_id": track_id, "kind": kind,
        "box": box, "quality": quality_field, "probabilities": probs, "top_class": top_class(probs),
        "valence": round(valence(probs), 4), "model": {"id": context.model_id, "version": context.model_version},
        "edge_version": context.edge_version,
    }
    if kind == "track_end":
        event["duration_ms"] = max(0, int(duration_ms or 0))
        event["frame_count"] = max(1, int(frame_count or 1))
    return event


class TrackReporter:
    """Per-track sentiment state and the decisions of when to emit events."""

    def __init__(self, context: EventContext, update_interval_ms: int = 1000, classify_interval_ms: int = 250,
                 smoothing_half_life_ms: float = 1000.0) -> None:
        if update_interval_ms <= 0 or classify_interval_ms <= 0:
            raise ValueError("update_interval_ms and classify_interval_ms must be positive")
        self.context = context
        self.update_interval_ms = update_interval_ms
        self.classify_interval_ms = classify_interval_ms
        self.smoothing_half_life_ms = smoothing_half_life_ms
        self.tracks: dict[str, TrackSentiment] = {}

    def state(self, track_id: str) -> TrackSentiment:
        if track_id not in self.tracks:
            self.tracks[track_id] = TrackSentiment(ExpressionSmoother(self.smoothing_half_life_ms))
        return self.tracks[track_id]

    def observe(self, track: Track, width: int, height: int, zone: str | None) -> None:
        state = self.state(track.track_id)
        state.box = normalised_box(track.box, width, height)
        state.zone = zone

    def wants_classification(self, track_id: str, time_ms: int) -> bool:
        last = self.state(track_id).last_classified_ms
        return last is None or time_ms - last >= self.classify_interval_ms

    def add_classification(self, track_id: str, probabilities: np.ndarray, quality: FaceQuality,
                           time_ms: int) -> None:
        state = self.state(track_id)
        state.last_classified_ms = time_ms
        if quality.usable:
            state.smoother.update(probabilities, time_ms)
            state.usable, state.quality = True, quality
            sample = np.asarray(probabilities, dtype=np.float64)
            state.usable_sum = sample.copy() if state.usable_sum is None else state.usable_sum + sample
            state.usable_count += 1
        elif not state.usable:
            # Nothing usable yet: report what we saw, marked unusable so it stays out of sentiment.
            state.raw, state.quality = np.asarray(probabilities, dtype=np.float64), quality

    def updates(self, active: list[Track], time_ms: int) -> list[dict[str, Any]]:
        events = []
        for track in active:
            state = self.tracks.get(track.track_id)
            if track.detection_index is None or state is None or state.probabilities is None:
                continue
            if state.last_update_ms is not None and time_ms - state.last_update_ms < self.update_interval_ms:
                continue
            state.last_update_ms = time_ms
            events.append(self._event(track, state, "track_update", time_ms))
        return events

    def end(self, track: Track) -> dict[str, Any] | None:
        state = self.tracks.pop(track.track_id, None)
        if state is None or state.probabilities is None:
            log.debug("track %s ended without a classified face; no event", track.track_id)
            return None
        return self._event(track, state, "track_end", track.last_seen_ms)

    def _event(self, track: Track, state: TrackSentiment, kind: str, time_ms: int) -> dict[str, Any]:
        probabilities = state.visit_probabilities if kind == "track_end" else state.probabilities
        assert state.quality is not None and probabilities is not None
        return face_expression_event(
            self.context, track.track_id, kind, time_ms, state.box, state.quality, state.usable,
            probabilities, state.zone, duration_ms=track.duration_ms, frame_count=track.hits)
