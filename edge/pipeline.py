"""The frame loop: source → detect → quality → track → classify → events → sink.

Full-frame detection is due every `full_detect_every` frames (and whenever nothing is tracked); in
between, each track is re-detected in a small region around its predicted box, which costs a
fraction of a full scan, falling back to a full scan when a face seen a frame ago is not found.
A due full scan is skipped while the picture outside the known faces has not changed since the
last one (edge.detection.scene_change): it would find nothing new; one still runs every second.
Each track is classified at most once per `classify_interval_ms`; the per-track smoothing makes
more often pointless. No pixels leave this module except into the optional local annotated video.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from edge.annotate import TrackDrawing, VideoAnnotator
from edge.detection.detections import Detections, FaceDetector
from edge.detection.scene_change import SceneChange, SceneChangeSettings
from edge.detection.zones import ZoneMask
from edge.events import EventContext, TrackReporter
from edge.frame import Frame
from edge.ports import CropSink, EventSink, ExpressionModel, FrameProgress
from edge.quality import QualitySettings, crop_box, measure
from edge.tracking.tracker import Track, Tracker

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "track", "classify", "publish", "annotate")


@dataclass(frozen=True)
class PipelineSettings:
    full_detect_every: int = 4  # frames; 1 = full-frame detection on every frame
    classify_interval_ms: int = 250
    update_interval_ms: int = 1000
    smoothing_half_life_ms: float = 1000.0
    scene_change: SceneChangeSettings = field(default_factory=SceneChangeSettings)

    def __post_init__(self) -> None:
        if self.full_detect_every < 1:
            raise ValueError(f"full_detect_every must be 1 or more, got {self.full_detect_every}")


@dataclass
class PipelineStats:
    frames: int = 0
    frames_with_faces: int = 0  # frames where the detector (full or near a track) found a face
    faces: int = 0  # detections summed over frames
    low_quality: int = 0  # classified crops that failed the gate
    classified: int = 0
    full_searches: int = 0  # full-frame detections run (the rest searched near known faces)
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    open_tracks: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def events_total(self) -> int:
        return sum(self.events.values())


class Pipeline:
    def __init__(self, detector: FaceDetector, classifier: ExpressionModel, sink: EventSink,
                 context: EventContext, tracker: Tracker | None = None, quality: QualitySettings | None = None,
                 zones: ZoneMask | None = None, annotator: VideoAnnotator | None = None,
                 settings: PipelineSettings | None = None, crops: CropSink | None = None,
                 progress: FrameProgress | None = None) -> None:
        self.detector = detector
        self.progress = progress  # a recorded source's: told after each frame, so a restart goes on from there
        self.crops = crops  # None (always, but in opt-in labeling): no crop outlives its classification
        self.classifier = classifier
        self.sink = sink
        self.settings = settings or PipelineSettings()
        self.tracker = tracker or Tracker()
        self.quality = quality or QualitySettings()
        self.zones = zones or ZoneMask()
        self.annotator = annotator
        self.reporter = TrackReporter(context, self.settings.update_interval_ms, self.settings.classify_interval_ms,
                                      self.settings.smoothing_half_life_ms)
        self.stats = PipelineStats()
        self._since_full = self.settings.full_detect_every
        self._scene = SceneChange(self.settings.scene_change)
        self._frame_size: tuple[int, int] | None = None

    def run(self, frames: Iterable[Frame], on_frame: Callable[[PipelineStats], None] | None = None,
            max_frames: int | None = None) -> PipelineStats:
        """Processes every frame, then closes the open tracks (so each gets its track_end)."""
        iterator = iter(frames)
        ended = False
        try:
            while max_frames is None or self.stats.frames < max_frames:
                start = time.perf_counter()
                frame = next(iterator, None)
                self.stats.stage_s["decode"] += time.perf_counter() - start
                if frame is None:
                    ended = True
                    break
                before = self.stats.events_total
                self.process(frame)
                if self.progress is not None:
                    self.progress.frame_done(frame.index, frame.time_ms, self.stats.events_total > before)
                if on_frame is not None:
                    on_frame(self.stats)
        finally:
            # Also on errors and Ctrl-C: every open track still gets its track_end.
            self.finish()
            if self.progress is not None:  # after the track_ends: they belong to the frames played
                self.progress.end() if ended else self.progress.flush()
        return self.stats

    def process(self, frame: Frame) -> None:
        stats, timer = self.stats, time.perf_counter
        stats.frames += 1
        stats.first_ms = frame.time_ms if stats.first_ms is None else stats.first_ms
        stats.last_ms = frame.time_ms
        self._follow_frame_size(frame)

        start = timer()
        # staff zones blacked out before anything looks: a face found beside one is classified (and, in
        # opt-in labeling, kept) without the zone's pixels that its box may still cover
        gray = self.zones.blank(to_gray(frame.image))
        detections = self._detect(gray, frame.time_ms)
        detections = self.zones.keep(detections, frame.width, frame.height)
        stats.faces += len(detections)
        stats.frames_with_faces += bool(len(detections))
        after_detect = timer()
        stats.stage_s["detect"] += after_detect - start

        step = self.tracker.update(detections, frame.time_ms)
        stats.open_tracks = len(step.active)
        after_track = timer()
        stats.stage_s["track"] += after_track - after_detect

        self._classify(frame, gray, step.active)
        after_classify = timer()
        stats.stage_s["classify"] += after_classify - after_track

        self._publish(self.reporter.updates(step.active, frame.time_ms))
        self._publish([e for e in (self.reporter.end(t) for t in step.ended) if e is not None])
        after_publish = timer()
        stats.stage_s["publish"] += after_publish - after_classify

        if self.annotator is not None:
            self.annotator.write(frame.image, self._drawings(step.active), detections.xyxy)
            stats.stage_s["annotate"] += timer() - after_publish

    def _follow_frame_size(self, frame: Frame) -> None:
        """A stream that changes resolution (a camera reconfigured, files of different sizes) ends
        every open track: their boxes belong to the old picture, and a track must not jump."""
        size = (frame.width, frame.height)
        if self._frame_size is not None and size != self._frame_size:
            log.warning("frame size changed from %dx%d to %dx%d at frame %d: open tracks ended, detection restarts",
                        *self._frame_size, *size, frame.index)
            self._publish([e for e in (self.reporter.end(t) for t in self.tracker.close_all()) if e is not None])
            self._since_full = self.settings.full_detect_every
            self._scene.reset()
        self._frame_size = size

    def finish(self) -> None:
        self._publish([e for e in (self.reporter.end(t) for t in self.tracker.close_all()) if e is not None])
        self.stats.open_tracks = 0
        if self.annotator is not None:
            self.annotator.close()

    def _detect(self, masked: np.ndarray, time_ms: int) -> Detections:
        self._since_full += 1
        known = self.tracker.predicted_boxes(time_ms) if self.tracker.tracks else np.empty((0, 4), np.float32)
        full_due = self._since_full >= self.settings.full_detect_every or not len(known)
        if full_due and self._scene.search_needed(masked, known, time_ms):
            return self._full_search(masked, time_ms)
        if not len(known):
            return Detections()  # nothing followed and nothing changed since the last full search
        near = self.detector.detect_near(masked, known)
        seen_last_frame = sum(t.detection_index is not None for t in self.tracker.tracks)
        if len(near) >= seen_last_frame:
            return near
        # A face seen a frame ago is not where it was predicted (turned, moved fast): look everywhere.
        return self._full_search(masked, time_ms)

    def _full_search(self, masked: np.ndarray, time_ms: int) -> Detections:
        self._since_full = 0
        self.stats.full_searches += 1
        self._scene.searched(masked, time_ms)
        return self.detector.detect(masked)

    def _classify(self, frame: Frame, gray: np.ndarray, active: list[Track]) -> None:
        due = []
        for track in active:
            if track.detection_index is None:
                continue
            center_x, center_y = (track.box[:2] + track.box[2:]) / 2
            zone = self.zones.zone_of(center_x / frame.width, center_y / frame.height) if self.zones.named else None
            self.reporter.observe(track, frame.width, frame.height, zone)
            if self.reporter.wants_classification(track.track_id, frame.time_ms):
                crop = crop_box(gray, track.box)
                if crop.shape[0] >= 2 and crop.shape[1] >= 2:
                    due.append((track, crop))
        if not due:
            return
        probabilities = self.classifier.classify([crop for _, crop in due])
        for (track, crop), probs in zip(due, probabilities, strict=True):
            quality = measure(crop, round(float(track.box[3] - track.box[1])), self.quality)
            self.stats.classified += 1
            self.stats.low_quality += not quality.usable
            self.reporter.add_classification(track.track_id, probs, quality, frame.time_ms)
            if self.crops is not None and quality.usable:
                self.crops.offer(track.track_id, frame.time_ms, crop, probs)

    def _publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.sink.publish(event)
            self.stats.events[event["kind"]] += 1

    def _drawings(self, active: list[Track]) -> list[TrackDrawing]:
        drawings = []
        for track in active:
            state = self.reporter.tracks.get(track.track_id)
            probs = None if state is None else state.probabilities
            drawings.append(TrackDrawing(track.track_id, track.box, probs, bool(state and state.usable),
                                         track.detection_index is not None))
        return drawings


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit gray from the BGR frames sources deliver, tolerating gray, BGRA and 16-bit ones."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
