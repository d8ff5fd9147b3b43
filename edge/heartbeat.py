"""`camera_heartbeat` events every N seconds: liveness plus the health figures an operator alarms on.

The pipeline's counters are cumulative; a heartbeat reports rates and counts *since the previous
heartbeat* (fps, faces) next to gauges read now (open tracks, spool depth, dropped count, model).
`HeartbeatEmitter` is pure (clocks injected); `HeartbeatThread` runs it on a timer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.contract import CAMERA_HEARTBEAT
from schemas.ids import new_event_id
from schemas.types import CameraHeartbeat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineCounters:
    """Cumulative counters from the frame loop (e.g. edge.pipeline.PipelineStats), read at one moment."""

    frames: int
    faces: int
    open_tracks: int


class SpoolGauge(Protocol):
    def depth(self) -> int: ...

    @property
    def dropped_count(self) -> int: ...


class HeartbeatSink(Protocol):
    def publish(self, event: dict[str, Any]) -> None: ...


class HeartbeatEmitter:
    def __init__(self, site_id: str, camera_id: str, spool: SpoolGauge, model_version: Callable[[], str],
                 edge_version: str, interval_s: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        if interval_s <= 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval_s}")
        self.site_id, self.camera_id = site_id, camera_id
        self.spool = spool
        self.model_version = model_version
        self.edge_version = edge_version
        self.interval_s = interval_s
        self._monotonic, self._wall_ms = monotonic, wall_ms
        self._started = monotonic()
        self._last_at = self._started
        self._last = PipelineCounters(0, 0, 0)

    def due(self) -> bool:
        return self._monotonic() - self._last_at >= self.interval_s

    def build(self, counters: PipelineCounters) -> CameraHeartbeat:
        """The heartbeat for now, with rates since the previous one; starts the next interval."""
        now = self._monotonic()
        elapsed = now - self._last_at
        frames = _since(self._last.frames, counters.frames)
        faces = _since(self._last.faces, counters.faces)
        self._last_at, self._last = now, counters
        time_ms = self._wall_ms()
        return {
            "schema": "camera_heartbeat",
            "schema_version": CAMERA_HEARTBEAT.version,
            "event_id": new_event_id(time_ms),
            "site_id": self.site_id,
            "event_time_ms": time_ms,
            "camera_id": self.camera_id,
            "fps": round(frames / elapsed, 3) if elapsed > 0 else 0.0,
            "faces": faces,
            "open_tracks": counters.open_tracks,
            "spool_depth": self.spool.depth(),
            "dropped_count": self.spool.dropped_count,
            "model_version": self.model_version()[:64],
            "uptime_s": round(now - self._started, 3),
            "edge_version": self.edge_version,
        }


class HeartbeatThread:
    """Publishes `emitter.build(read_counters())` every interval until stopped."""

    def __init__(self, emitter: HeartbeatEmitter, read_counters: Callable[[], PipelineCounters],
                 sink: HeartbeatSink) -> None:
        self.emitter, self.read_counters, self.sink = emitter, read_counters, sink
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moodlens-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self.emitter.interval_s):
            try:
                self.sink.publish(dict(self.emitter.build(self.read_counters())))
            except Exception:  # one bad heartbeat must not end liveness reporting
                logger.exception("heartbeat failed")


def _since(previous: int, current: int) -> int:
    # Counters that went down were reset (a restarted pipeline): all of `current` is new.
    return current - previous if current >= previous else current
