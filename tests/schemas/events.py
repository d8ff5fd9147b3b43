"""Valid sample events for tests, built the way the edge and stream build them."""

from __future__ import annotations

from typing import Any

from schemas.ids import new_event_id

EVENT_TIME_MS = 1_790_000_000_000  # 2026-09-21


def face_expression(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema": "face_expression", "schema_version": "1.0", "event_id": new_event_id(EVENT_TIME_MS),
        "site_id": "cafe-1", "camera_id": "cam-a", "zone": None, "track_id": "t42",
        "event_time_ms": EVENT_TIME_MS, "kind": "track_update",
        "box": {"x": 0.25, "y": 0.1, "w": 0.2, "h": 0.3},
        "quality": {"face_px": 96, "sharpness": 140.5, "brightness": 120.0, "usable": True},
        "probabilities": {"angry": 0.05, "disgust": 0.01, "fear": 0.04, "happy": 0.7, "sad": 0.05,
                          "surprise": 0.05, "neutral": 0.1},
        "top_class": "happy", "valence": 0.55,
        "model": {"id": "moodlens-expression-vgg32", "version": "1.0.0"}, "edge_version": "0.1.0",
    }
    event.update(overrides)
    return event


def camera_heartbeat(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema": "camera_heartbeat", "schema_version": "1.0", "event_id": new_event_id(EVENT_TIME_MS),
        "site_id": "cafe-1", "camera_id": "cam-a", "event_time_ms": EVENT_TIME_MS, "fps": 24.5,
        "faces": 12, "open_tracks": 2, "spool_depth": 0, "dropped_count": 0, "model_version": "1.0.0",
        "uptime_s": 3600.0, "edge_version": "0.1.0",
    }
    event.update(overrides)
    return event


def sentiment_window(**overrides: Any) -> dict[str, Any]:
    shares = {"angry": 0.1, "disgust": 0.0, "fear": 0.0, "happy": 0.5, "sad": 0.1, "surprise": 0.1,
              "neutral": 0.2}
    event: dict[str, Any] = {
        "schema": "sentiment_window", "schema_version": "1.0", "event_id": new_event_id(EVENT_TIME_MS),
        "site_id": "cafe-1", "camera_id": None, "event_time_ms": EVENT_TIME_MS,
        "window_start_ms": EVENT_TIME_MS - 300_000, "window_end_ms": EVENT_TIME_MS, "window_minutes": 5,
        "tracks": 10, "faces": 80, "low_quality_faces": 3, "insufficient_data": False, "shares": shares,
        "mean_valence": 0.3, "valence_ci": {"low": 0.1, "high": 0.5}, "net_score": 0.3,
        "net_score_ci": {"low": 0.0, "high": 0.6},
    }
    event.update(overrides)
    return event


def sentiment_alarm(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema": "sentiment_alarm", "schema_version": "1.0", "event_id": new_event_id(EVENT_TIME_MS),
        "site_id": "cafe-1", "camera_id": "cam-a", "event_time_ms": EVENT_TIME_MS,
        "rule": "low_sentiment", "state": "ALARM", "value": -0.4, "threshold": -0.2,
        "reason": "net score below -0.2 in 3 of 5 windows",
    }
    event.update(overrides)
    return event


SAMPLES = {"face_expression": face_expression, "camera_heartbeat": camera_heartbeat,
           "sentiment_window": sentiment_window, "sentiment_alarm": sentiment_alarm}
