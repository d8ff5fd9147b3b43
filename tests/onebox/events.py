"""Small valid stream outputs for the dashboard tests."""

from __future__ import annotations

import itertools
import time
from typing import Any

from schemas.ids import new_event_id

_counter = itertools.count()


def _now_minute() -> int:
    return int(time.time() // 60 * 60_000)


def window(camera: str | None, minutes: int, net: float | None, tracks: int = 6,
           end_ms: int | None = None) -> dict[str, Any]:
    end = end_ms or _now_minute()
    ok = net is not None
    net = net if net is not None else 0.0
    return {"schema": "sentiment_window", "schema_version": "1.0", "event_id": new_event_id(end), "site_id": "cafe",
            "event_time_ms": end, "camera_id": camera, "window_start_ms": end - minutes * 60_000,
            "window_end_ms": end, "window_minutes": minutes, "tracks": tracks, "faces": tracks * 5,
            "low_quality_faces": 0, "insufficient_data": not ok,
            "shares": None, "mean_valence": net if ok else None,
            "valence_ci": {"low": max(-1, net - 0.1), "high": min(1, net + 0.1)} if ok else None,
            "net_score": net, "net_score_ci": {"low": max(-1, net - 0.2), "high": min(1, net + 0.2)} if ok else None}


def alarm(camera: str | None, state: str, rule: str = "low_sentiment", time_ms: int | None = None) -> dict[str, Any]:
    t = time_ms or _now_minute() + next(_counter)
    return {"schema": "sentiment_alarm", "schema_version": "1.0", "event_id": new_event_id(t), "site_id": "cafe",
            "event_time_ms": t, "camera_id": camera, "rule": rule, "state": state, "value": -0.5,
            "threshold": -0.2, "reason": f"test alarm {state}"}


def heartbeat(camera: str, fps: float = 10.0, spool: int = 0) -> dict[str, Any]:
    t = int(time.time() * 1000)
    return {"schema": "camera_heartbeat", "schema_version": "1.0", "event_id": new_event_id(t), "site_id": "cafe",
            "event_time_ms": t, "camera_id": camera, "fps": fps, "faces": 3, "open_tracks": 1,
            "spool_depth": spool, "dropped_count": 0, "model_version": "1.0.0", "uptime_s": 12.0,
            "edge_version": "0.1.0"}
