"""What runs around the frame loop when the edge runs as a service: the status line, heartbeats, the
sink's gauges and the swap to a new model version between frames. The CLI parses options and calls these.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace
from typing import IO, TYPE_CHECKING

from edge.ports import EventSink, SpoolDepth

if TYPE_CHECKING:  # the heavy modules (OpenCV, onnxruntime) load only when the edge runs
    from edge.events import EventContext
    from edge.heartbeat import FrameHeartbeats, PipelineCounters
    from edge.model.store import SwappingClassifier
    from edge.pipeline import Pipeline, PipelineStats

log = logging.getLogger("moodlens.edge")


def spool_depth(sink: object) -> int | str:
    """Events waiting in the sink, or its spool (`sink.spool.depth()`); '-' when it cannot say."""
    for candidate in (sink, getattr(sink, "spool", None)):
        if isinstance(candidate, SpoolDepth):
            return candidate.depth()
    return "-"


class StatusLine:
    """fps, faces, tracks, events and spool depth on one line of stderr, redrawn twice a second."""

    def __init__(self, sink: EventSink, stream: IO[str] | None = None, every_s: float | None = None) -> None:
        self.sink = sink
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        # Redrawn in place on a terminal; into a log file, a line every few seconds is plenty.
        self.every_s = every_s if every_s is not None else 0.5 if self.tty else 5.0
        self.started = self._last = time.monotonic()
        self._last_frames = 0

    def __call__(self, stats: PipelineStats) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        fps = (stats.frames - self._last_frames) / (now - self._last)
        self._last, self._last_frames = now, stats.frames
        depth = spool_depth(self.sink)
        line = (f"frames {stats.frames}  {fps:5.1f} fps  faces {stats.faces}  tracks {stats.open_tracks}  "
                f"events {stats.events_total}  spool {depth}")
        self.stream.write(("\r" + line + "   ") if self.tty else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


class SinkGauge:
    """What heartbeats read from the sink: its (or its spool's) depth and dropped count; 0 when it keeps none."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink

    def depth(self) -> int:
        depth = spool_depth(self.sink)
        return depth if isinstance(depth, int) else 0

    @property
    def dropped_count(self) -> int:
        for candidate in (self.sink, getattr(self.sink, "spool", None)):
            dropped = getattr(candidate, "dropped_count", None)
            if isinstance(dropped, int):
                return dropped
        return 0


def counters(stats: PipelineStats) -> PipelineCounters:
    from edge.heartbeat import PipelineCounters

    return PipelineCounters(stats.frames, stats.faces, stats.open_tracks)


class BetweenFrames:
    """`Pipeline.run`'s `on_frame`: what happens after each frame, before the next one.

    1. Heartbeats, on the frame's own time (`stats.last_ms`; see edge.heartbeat for why), naming the
       model that classified the frame just done.
    2. The live status line.
    3. Pins the classifier's current model for the next frame and, when the watcher swapped in a new
       version, re-stamps the events' model id/version: a swap lands between two frames, and every
       event names the model that classified its frame.
    """

    def __init__(self, pipeline: Pipeline, classifier: SwappingClassifier, heartbeats: FrameHeartbeats | None,
                 status: StatusLine | None) -> None:
        self.pipeline, self.classifier, self.heartbeats, self.status = pipeline, classifier, heartbeats, status

    def __call__(self, stats: PipelineStats) -> None:
        if self.heartbeats is not None:
            self.heartbeats.on_frame(counters(stats), stats.last_ms)
        if self.status is not None:
            self.status(stats)
        self.sync_model()

    def sync_model(self) -> None:
        info = self.classifier.pin()
        context: EventContext = self.pipeline.reporter.context
        if (info.model_id, info.version) != (context.model_id, context.model_version):
            log.info("model now %s %s (sha256 %s)", info.model_id, info.version, info.sha256[:12])
            self.pipeline.reporter.context = replace(context, model_id=info.model_id, model_version=info.version)

    def finish(self, stats: PipelineStats) -> None:
        if self.heartbeats is not None:
            self.heartbeats.finish(counters(stats))
