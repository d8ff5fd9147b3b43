"""Events: valid per the contract, one voice per customer, rate independent of frame rate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detection.detections import Detections
from edge.events import EventContext, TrackReporter, face_expression_event, normalised_box, shares
from edge.quality import FaceQuality, Flaw
from edge.tracking.tracker import Tracker
from schemas.validation import validate_event

CONTEXT = EventContext("cafe-1", "cam-a", "tiny", "0.1", "9.9.9")
GOOD = FaceQuality(96, 120.0, 110.0, ())
DARK = FaceQuality(96, 120.0, 12.0, (Flaw.TOO_DARK,))
HAPPY = np.array([0.01, 0.01, 0.01, 0.9, 0.03, 0.02, 0.02])
SAD = np.array([0.02, 0.01, 0.02, 0.02, 0.9, 0.01, 0.02])
T0 = 1_790_000_000_000


def simulate(frame_ms: int, seconds: float, quality: FaceQuality = GOOD, update_ms: int = 1000):
    """One face in view for `seconds`, classified whenever the reporter asks; returns every event."""
    tracker, reporter = Tracker(id_prefix="t"), TrackReporter(CONTEXT, update_interval_ms=update_ms)
    events = []
    box = Detections(np.array([[100, 50, 200, 150]], np.float32))
    t = T0
    while t < T0 + seconds * 1000:
        step = tracker.update(box, t)
        for track in step.active:
            reporter.observe(track, 640, 360, None)
            if reporter.wants_classification(track.track_id, t):
                reporter.add_classification(track.track_id, HAPPY, quality, t)
        events += reporter.updates(step.active, t)
        t += frame_ms
    events += [e for e in (reporter.end(track) for track in tracker.close_all()) if e]
    return events


@pytest.mark.parametrize("frame_ms", [33, 40, 100, 200])  # 30, 25, 10, 5 fps
def test_event_count_does_not_grow_with_frame_rate(frame_ms):
    events = simulate(frame_ms, seconds=60)
    kinds = [e["kind"] for e in events]
    assert kinds.count("track_end") == 1
    assert 59 <= kinds.count("track_update") <= 61  # one a second, whatever the frame rate


@pytest.mark.parametrize(("update_ms", "expected"), [(1000, 10), (2000, 5), (5000, 2)])
def test_update_interval_throttles_per_track(update_ms, expected):
    updates = [e for e in simulate(40, seconds=10, update_ms=update_ms) if e["kind"] == "track_update"]
    assert len(updates) == expected
    gaps = np.diff([e["event_time_ms"] for e in updates])
    assert gaps.min() >= update_ms


def test_every_event_is_valid_and_the_end_summarises_the_track():
    events = simulate(40, seconds=3)
    for event in events:
        assert validate_event(event) == [], event
    end = events[-1]
    assert end["kind"] == "track_end"
    assert end["frame_count"] == 75
    assert end["duration_ms"] == 74 * 40
    assert end["top_class"] == "happy" and end["valence"] > 0.8
    assert end["box"] == {"x": 0.1562, "y": 0.1389, "w": 0.1562, "h": 0.2778}
    assert len({e["event_id"] for e in events}) == len(events)


def test_low_quality_faces_are_marked_and_kept_out_of_sentiment():
    tracker, reporter = Tracker(id_prefix="t", ), TrackReporter(CONTEXT)
    box = Detections(np.array([[100, 50, 200, 150]], np.float32))
    for i in range(3):
        step = tracker.update(box, T0 + i * 300)
    track = step.active[0]
    reporter.observe(track, 640, 360, None)
    reporter.add_classification(track.track_id, SAD, DARK, T0)
    first = reporter.updates([track], T0)[0]
    assert first["quality"]["usable"] is False and first["top_class"] == "sad"
    reporter.add_classification(track.track_id, HAPPY, GOOD, T0 + 300)
    reporter.add_classification(track.track_id, SAD, DARK, T0 + 600)  # a dark frame later does not count
    end = reporter.end(track)
    assert end is not None
    assert end["quality"]["usable"] is True and end["top_class"] == "happy"
    assert end["quality"]["brightness"] == GOOD.brightness


def test_track_never_classified_ends_without_an_event():
    tracker, reporter = Tracker(id_prefix="t"), TrackReporter(CONTEXT)
    for i in range(3):
        tracker.update(Detections(np.array([[0, 0, 50, 50]], np.float32)), T0 + i)
    assert [reporter.end(t) for t in tracker.close_all()] == [None]


@pytest.mark.parametrize(("xyxy", "box"), [
    ([0, 0, 640, 360], {"x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0}),
    ([-20, -10, 100, 100], {"x": 0.0, "y": 0.0, "w": 0.1562, "h": 0.2778}),
    ([600, 300, 700, 400], {"x": 0.9375, "y": 0.8333, "w": 0.0625, "h": 0.1667}),
])
def test_boxes_are_normalised_and_clipped(xyxy, box):
    assert normalised_box(np.array(xyxy, np.float32), 640, 360) == box


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=7, max_size=7).filter(lambda v: sum(v) > 1e-3))
def test_any_non_negative_scores_become_valid_probabilities(values):
    event = face_expression_event(CONTEXT, "t-1", "track_update", T0, {"x": 0, "y": 0, "w": 0.1, "h": 0.1}, GOOD,
                                  True, np.array(values))
    assert validate_event(event) == []
    assert abs(sum(event["probabilities"].values()) - 1) < 0.01


@pytest.mark.parametrize("bad", [np.zeros(7), np.full(7, np.nan), np.ones(6)])
def test_unusable_probabilities_are_refused(bad):
    with pytest.raises(ValueError, match="probabilities"):
        shares(bad)


def test_track_end_votes_the_whole_visit_while_updates_follow_the_moment():
    tracker, reporter = Tracker(id_prefix="t"), TrackReporter(CONTEXT, classify_interval_ms=250)
    box = Detections(np.array([[100, 50, 200, 150]], np.float32))
    updates = []
    for i in range(160):  # 6.4 s at 25 fps: sad for 4 s, then happy
        t = T0 + 40 * i
        step = tracker.update(box, t)
        for track in step.active:
            reporter.observe(track, 640, 360, None)
            if reporter.wants_classification(track.track_id, t):
                reporter.add_classification(track.track_id, SAD if i < 100 else HAPPY, GOOD, t)
        updates += reporter.updates(step.active, t)
    end = reporter.end(tracker.close_all()[0])
    assert end is not None
    assert updates[-1]["top_class"] == "happy"  # the latest second
    assert end["top_class"] == "sad"  # most of the visit
    share_sad = 16 / 26  # classifications at 4 a second: 16 sad, 10 happy (the first two frames are unconfirmed)
    assert end["probabilities"]["sad"] == pytest.approx(0.9 * share_sad + 0.02 * (1 - share_sad), abs=0.04)
