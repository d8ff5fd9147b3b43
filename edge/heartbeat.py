"""`camera_heartbeat` events every N seconds: liveness plus the health figures an operator alarms on.

The pipeline's counters are cumulative; a heartbeat reports rates and counts *since the previous
heartbeat* (fps, faces) next to gauges read now (open tracks, spool depth, dropped count, model).
`HeartbeatEmitter` is pure (clocks injected); `FrameHeartbeats` (what `moodlens edge run` uses)
drives it from the frame loop on the source's time.

Why the frame loop and the frame's time, not a wall-clock thread: a heartbeat's `event_time_ms` is
event time, and the stream's `camera_silent` alarm and its minute panes work in event time. A live
source stamps frames with the wall clock, so its heartbeats follow the wall clock anyway. A recorded
video's frames sit on the video's own timeline (processed at any speed): a wall-clock thread would put
heartbeats at times unrelated to the face events beside them (a clip processed in 3 s would get no
heartbeat in a 30 s interval, or one stamped outside the clip), and the alarm would misfire. On the
source's timeline, a replay produces exactly the heartbeats the camera would have sent live, fps is
frames per source second, and uptime counts source seconds since the first frame. A live camera that
stops delivering frames stops its heartbeats too: that is the silence the alarm is there to catch.
"""

from __future__ import annotations

import logging
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


def _since(previous: int, current: int) -> int:
    # Counters that went down were reset (a restarted pipeline): all of `current` is new.
    return current - previous if current >= previous else current


class FrameHeartbeats:
    """Heartbeats on the source's timeline, driven from the frame loop.

    Call `on_frame(counters, time_ms)` after each frame (e.g. from `Pipeline.run`'s `on_frame`, with
    `stats.last_ms`) and `finish(counters)` once when the run ends. The first frame publishes a
    heartbeat (the start one), then one whenever `interval_s` of source time has passed, and `finish`
    one more unless nothing happened since the last: so even a short clip yields one, and the last
    one carries the final counters. Publishing never raises into the frame loop.
    """

    def __init__(self, site_id: str, camera_id: str, spool: SpoolGauge, model_version: Callable[[], str],
                 edge_version: str, interval_s: float, sink: HeartbeatSink) -> None:
        if interval_s <= 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval_s}")
        self._make = lambda: HeartbeatEmitter(site_id, camera_id, spool, model_version, edge_version, interval_s,
                                              monotonic=self._seconds, wall_ms=self._ms)
        self.sink = sink
        self.emitter: HeartbeatEmitter | None = None  # made at the first frame: the timeline starts there
        self.published = 0
        self._time_ms = 0
        self._beat_frames: int | None = None

    def _seconds(self) -> float:
        return self._time_ms / 1000.0

    def _ms(self) -> int:
        return self._time_ms

    def on_frame(self, counters: PipelineCounters, time_ms: int | None) -> None:
        if time_ms is None:
            return
        # Never backwards (a live camera's clock stepped back): event time and uptime stay monotonic.
        self._time_ms = max(self._time_ms, int(time_ms))
        if self.emitter is None:
            self.emitter = self._make()
            self._beat(counters)
        elif self.emitter.due():
            self._beat(counters)

    def finish(self, counters: PipelineCounters) -> None:
        """The closing heartbeat, at the last frame's time; none without frames or news since the last."""
        if self.emitter is not None and counters.frames != self._beat_frames:
            self._beat(counters)

    def _beat(self, counters: PipelineCounters) -> None:
        assert self.emitter is not None
        try:
            self.sink.publish(dict(self.emitter.build(counters)))
        except BrokenPipeError:  # stdout's reader has gone (`| head`): the run ends, quietly, upstream
            raise
        except Exception:  # a failed heartbeat must not stop capture
            logger.exception("heartbeat failed")
            return
        self.published += 1
        self._beat_frames = counters.frames
