"""Tracker on synthetic box sequences: one person in view is one track."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detection.detections import Detections
from edge.tracking.tracker import Tracker, TrackerSettings

FRAME_MS = 40  # 25 fps


def box(cx: float, cy: float, size: float = 60.0) -> list[float]:
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def run(frames: list[list[list[float]]], tracker: Tracker | None = None, frame_ms: int = FRAME_MS):
    """Feeds one list of boxes per frame; returns (ids per frame in detection order, ended tracks)."""
    tracker = tracker or Tracker(id_prefix="t")
    ids_per_frame, ended = [], []
    for i, boxes in enumerate(frames):
        step = tracker.update(Detections(np.array(boxes, dtype=np.float32).reshape(-1, 4)), i * frame_ms)
        by_detection = {t.detection_index: t.track_id for t in tracker.tracks if t.detection_index is not None}
        ids_per_frame.append([by_detection.get(d) for d in range(len(boxes))])
        ended.extend(step.ended)
    ended.extend(tracker.close_all())
    return ids_per_frame, ended


def test_a_still_face_is_one_track_for_its_whole_stay():
    ids, ended = run([[box(100, 100)]] * 100)
    assert {i[0] for i in ids} == {"t-1"}
    assert [(t.track_id, t.hits, t.duration_ms) for t in ended] == [("t-1", 100, 99 * FRAME_MS)]


@pytest.mark.parametrize("speed", [2.0, 8.0, 20.0])  # px per frame; 20 px is a third of the box per frame
def test_crossing_paths_keep_their_ids(speed):
    # Two faces walk towards each other along the same line, overlap, and carry on past.
    frames = [[box(100 + speed * i, 200), box(100 + speed * 60 - speed * i, 200)] for i in range(61)]
    ids, ended = run(frames)
    assert ids[0] == ["t-1", "t-2"]
    assert ids[-1] == ["t-1", "t-2"]  # the one that started on the left ends on the right, same id
    assert sorted(t.track_id for t in ended) == ["t-1", "t-2"]


def test_crossing_with_one_face_hidden_behind_the_other():
    # While they overlap only the front face is detected; both ids survive and continue.
    frames = []
    for i in range(61):
        left, right = box(100 + 5 * i, 200), box(400 - 5 * i, 200)
        frames.append([left] if 25 <= i <= 35 else [left, right])
    ids, ended = run(frames)
    assert ids[-1] == ["t-1", "t-2"]
    assert sorted(t.track_id for t in ended) == ["t-1", "t-2"]


@pytest.mark.parametrize(("gap_frames", "same_track"), [(5, True), (20, True), (26, False), (60, False)])
def test_occlusion_shorter_than_max_gap_keeps_the_track(gap_frames, same_track):
    # max_gap_ms 1000 at 40 ms per frame: up to 25 frames unseen is the same person.
    frames = [[box(100, 100)]] * 20 + [[]] * gap_frames + [[box(104, 102)]] * 20
    ids, ended = run(frames)
    assert (ids[-1][0] == "t-1") is same_track
    assert len(ended) == (1 if same_track else 2)


def test_re_entry_after_leaving_is_a_new_anonymous_track():
    frames = [[box(100, 100)]] * 20 + [[]] * 100 + [[box(100, 100)]] * 20
    ids, ended = run(frames)
    assert ids[0] == ["t-1"] and ids[-1] == ["t-2"]
    assert [t.track_id for t in ended] == ["t-1", "t-2"]


def test_occluded_mover_is_found_where_its_velocity_takes_it():
    # Moving 10 px per frame, hidden for 10 frames: reappears 110 px on, well past any overlap with
    # where it was last seen (60 px boxes), but on the predicted path.
    frames = [[box(100 + 10 * i, 100)] for i in range(20)] + [[]] * 10
    frames += [[box(100 + 10 * i, 100)] for i in range(30, 40)]
    ids, _ = run(frames)
    assert ids[-1] == ["t-1"]


@pytest.mark.parametrize("flicker_frames", [1, 2])
def test_short_false_detections_never_become_tracks(flicker_frames):
    frames = [[box(100, 100)]] * 10
    for i in range(flicker_frames):
        frames[3 + i] = [box(100, 100), box(500, 300)]
    _, ended = run(frames + [[]] * 40)
    assert [t.track_id for t in ended] == ["t-1"]


def test_new_track_is_not_confirmed_before_min_hits():
    tracker = Tracker(TrackerSettings(min_hits=3), id_prefix="t")
    confirmed = [len(tracker.update(Detections(np.array([box(50, 50)])), i * FRAME_MS).active) for i in range(4)]
    assert confirmed == [0, 0, 1, 1]


def test_time_going_backwards_is_an_error():
    tracker = Tracker()
    tracker.update(Detections(), 1000)
    with pytest.raises(ValueError, match="time went backwards"):
        tracker.update(Detections(), 999)


@pytest.mark.parametrize("bad", [{"iou_threshold": 0.0}, {"iou_threshold": 1.0}, {"min_hits": 0}, {"max_gap_ms": -1}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        TrackerSettings(**bad)


def test_ids_are_anonymous_and_differ_between_runs():
    first, second = Tracker(), Tracker()
    for tracker in (first, second):
        tracker.update(Detections(np.array([box(50, 50)])), 0)
    a, b = first.tracks[0].track_id, second.tracks[0].track_id
    assert a != b  # a random per-run prefix, so a restart never reuses a customer's id
    assert a.endswith("-1") and b.endswith("-1")


@pytest.mark.parametrize("frame_ms", [33, 100, 200])  # 30, 10 and 5 fps
def test_track_lifetime_does_not_depend_on_frame_rate(frame_ms):
    seconds = 6
    n = seconds * 1000 // frame_ms
    _, ended = run([[box(100, 100)]] * n + [[]] * (2000 // frame_ms), frame_ms=frame_ms)
    assert len(ended) == 1
    assert ended[0].duration_ms == pytest.approx(seconds * 1000, abs=2 * frame_ms)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(-6, 6), st.floats(-6, 6)), min_size=5, max_size=80),
       size=st.floats(30, 200))
def test_any_slow_walk_of_one_face_is_one_track(steps, size):
    cx, cy, frames = 500.0, 500.0, []
    for dx, dy in steps:
        cx, cy = cx + dx, cy + dy
        frames.append([box(cx, cy, size)])
    ids, ended = run(frames)
    assert {i[0] for i in ids} == {"t-1"}
    assert len(ended) == (1 if len(frames) >= 3 else 0)
