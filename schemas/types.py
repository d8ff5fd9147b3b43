"""Python types for the events, checked field by field against the contract in tests."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class Box(TypedDict):
    x: float
    y: float
    w: float
    h: float


class Quality(TypedDict):
    face_px: int
    sharpness: float
    brightness: float
    usable: NotRequired[bool]


class ExpressionShares(TypedDict):
    angry: float
    disgust: float
    fear: float
    happy: float
    sad: float
    surprise: float
    neutral: float


class ModelRef(TypedDict):
    id: str
    version: str


class Interval(TypedDict):
    low: float
    high: float


class FaceExpression(TypedDict):
    schema: Literal["face_expression"]
    schema_version: str
    event_id: str
    site_id: str
    event_time_ms: int
    camera_id: str
    zone: NotRequired[str | None]
    track_id: str
    kind: Literal["track_update", "track_end"]
    duration_ms: NotRequired[int]
    frame_count: NotRequired[int]
    box: Box
    quality: Quality
    probabilities: ExpressionShares
    top_class: str
    valence: float
    model: ModelRef
    edge_version: str


class CameraHeartbeat(TypedDict):
    schema: Literal["camera_heartbeat"]
    schema_version: str
    event_id: str
    site_id: str
    event_time_ms: int
    camera_id: str
    fps: float
    faces: int
    open_tracks: int
    spool_depth: int
    dropped_count: int
    model_version: str
    uptime_s: float
    edge_version: str


class SentimentWindow(TypedDict):
    schema: Literal["sentiment_window"]
    schema_version: str
    event_id: str
    site_id: str
    event_time_ms: int
    camera_id: str | None
    window_start_ms: int
    window_end_ms: int
    window_minutes: int
    tracks: int
    faces: int
    low_quality_faces: int
    insufficient_data: bool
    shares: ExpressionShares | None
    mean_valence: float | None
    valence_ci: Interval | None
    net_score: float | None
    net_score_ci: Interval | None


class SentimentAlarm(TypedDict):
    schema: Literal["sentiment_alarm"]
    schema_version: str
    event_id: str
    site_id: str
    event_time_ms: int
    camera_id: str | None
    rule: Literal["low_sentiment", "sentiment_drop", "camera_silent", "site_unreachable"]
    state: Literal["ALARM", "OK"]
    value: float | None
    threshold: float | None
    reason: str


EVENT_TYPES: dict[str, type] = {
    "face_expression": FaceExpression,
    "camera_heartbeat": CameraHeartbeat,
    "sentiment_window": SentimentWindow,
    "sentiment_alarm": SentimentAlarm,
}
