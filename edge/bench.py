"""End-to-end throughput of the edge pipeline on a recorded video: frames/s, time per stage, peak RSS."""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from edge.detection.detections import FaceDetector
from edge.detection.haar import HaarFaceDetector, HaarSettings
from edge.events import EventContext
from edge.expression.classifier import ExpressionClassifier
from edge.pipeline import STAGES, Pipeline, PipelineSettings, PipelineStats
from edge.publish.sinks import CountingSink
from edge.sources.capture import VideoCaptureSource


@dataclass(frozen=True)
class BenchResult:
    video: str
    frames: int
    video_s: float
    wall_s: float
    stats: PipelineStats
    sink: CountingSink
    peak_rss_mib: float
    mean_open_tracks: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s else 0.0

    def report(self) -> str:
        s = self.stats
        minutes = self.video_s / 60
        per_face = s.events_total / minutes / self.mean_open_tracks if minutes and self.mean_open_tracks else 0.0
        lines = [
            f"video            {self.video} ({self.frames} frames, {self.video_s:.1f} s)",
            f"throughput       {self.fps:.1f} frames/s end to end ({self.wall_s:.2f} s wall)",
            f"faces found      {s.frames_with_faces} of {s.frames} frames "
            f"({s.faces} detections, {s.classified} crops classified, {s.low_quality} below the quality gate)",
            f"full searches    {s.full_searches} of {s.frames} frames (near known faces on the rest)",
            "time per stage   " + "  ".join(f"{name} {1000 * s.stage_s[name] / max(1, s.frames):.2f}"
                                            for name in STAGES if name != "annotate" or s.stage_s[name])
            + " ms/frame",
            f"peak RSS         {self.peak_rss_mib:.0f} MiB",
            f"events           {s.events_total} ({', '.join(f'{k} {v}' for k, v in sorted(s.events.items()))}); "
            f"{s.events_total / minutes if minutes else 0:.1f} per minute of video, "
            f"{per_face:.1f} per minute per face (mean {self.mean_open_tracks:.2f} faces tracked)",
            f"event size       largest {self.sink.largest} bytes, mean "
            f"{self.sink.bytes / max(1, s.events_total):.0f} bytes",
        ]
        return "\n".join(lines)


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def run_benchmark(video: Path, model: Path, settings: PipelineSettings, haar: HaarSettings,
                  max_frames: int | None = None, detector: FaceDetector | None = None,
                  edge_version: str = "bench") -> BenchResult:
    """Runs the pipeline over the video as fast as it goes; `detector` replaces the Haar one built from `haar`."""
    cv2.setNumThreads(1)
    classifier = ExpressionClassifier(model, threads=1)
    source = VideoCaptureSource(str(video), live=False, start_ms=1_790_000_000_000)
    sink = CountingSink()
    context = EventContext("bench-site", "bench-cam", classifier.info.model_id, classifier.info.version, edge_version)
    pipeline = Pipeline(detector or HaarFaceDetector(haar), classifier, sink, context, settings=settings)
    open_tracks = 0

    def count(stats: PipelineStats) -> None:
        nonlocal open_tracks
        open_tracks += stats.open_tracks

    start = time.perf_counter()
    try:
        stats = pipeline.run(source.frames(), on_frame=count, max_frames=max_frames)
    finally:
        source.close()
    wall = time.perf_counter() - start
    return BenchResult(str(video), stats.frames, stats.frames / source.fps, wall, stats, sink, peak_rss_mib(),
                       open_tracks / max(1, stats.frames))
