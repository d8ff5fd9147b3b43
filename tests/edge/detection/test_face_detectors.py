"""Detectors on real photos and frames from the sample footage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.detection.haar import HaarFaceDetector, HaarSettings, resolve_cascade
from tests.edge.conftest import VIDEO


def gray(name: str) -> np.ndarray:
    image = cv2.imread(str(VIDEO / name))
    assert image is not None, f"missing sample {name}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def frame(name: str, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(VIDEO / name))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = capture.read()
    capture.release()
    assert ok
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


@pytest.mark.parametrize(("image", "width", "low", "high"), [
    ("single_face.jpg", 320, 1, 1),
    ("multi_face.jpg", 320, 4, 5),
    ("multi_face.jpg", 640, 5, 5),
])
def test_haar_finds_the_faces_in_photos(image, width, low, high):
    faces = HaarFaceDetector(HaarSettings(detect_width=width)).detect(gray(image))
    assert low <= len(faces) <= high
    assert faces.heights.min() > 60  # boxes are in the original image's pixels, not the shrunk one's


def test_haar_box_lands_on_the_face_in_full_resolution():
    faces = HaarFaceDetector().detect(gray("single_face.jpg"))
    cx, cy = faces.centers[0]
    assert 230 < cx < 330 and 220 < cy < 320  # the face is mid-image in this 572x562 photo


@pytest.mark.parametrize(("video", "index", "faces"), [
    ("face_noface.mov", 10, 1), ("face_noface.mov", 120, 0), ("noface_face.mov", 40, 0), ("noface_face.mov", 130, 1),
])
def test_haar_on_face_and_cartoon_frames(video, index, faces):
    assert len(HaarFaceDetector().detect(frame(video, index))) == faces


def test_detect_near_finds_a_known_face_and_nothing_elsewhere():
    detector = HaarFaceDetector()
    image = gray("single_face.jpg")
    full = detector.detect(image)
    near = detector.detect_near(image, full.xyxy + 8)  # a slightly stale box
    assert len(near) == 1
    assert abs(near.centers[0] - full.centers[0]).max() < 20
    assert len(detector.detect_near(image, np.array([[0, 0, 60, 60]], np.float32))) == 0


@pytest.mark.parametrize(("settings", "message"), [
    ({"detect_width": 10}, "detect_width"), ({"scale_factor": 1.0}, "scale_factor"), ({"min_face_px": 10}, "window"),
])
def test_bad_haar_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        HaarSettings(**settings)


def test_unknown_cascade_lists_the_bundled_ones():
    with pytest.raises(ValueError, match=r"haarcascade_frontalface_alt2\.xml"):
        resolve_cascade("no_such_cascade.xml")


def test_hog_detector_when_dlib_is_installed():
    pytest.importorskip("dlib")
    from edge.detection.hog import HogFaceDetector

    faces = HogFaceDetector().detect(gray("single_face.jpg"))
    assert len(faces) == 1 and faces.confidence is not None
    assert len(HogFaceDetector().detect(frame("face_noface.mov", 120))) == 0


def test_hog_detect_near_finds_the_known_face():
    pytest.importorskip("dlib")
    from edge.detection.hog import HogFaceDetector

    detector = HogFaceDetector()
    image = gray("single_face.jpg")
    full = detector.detect(image)
    near = detector.detect_near(image, full.xyxy + 8)
    assert len(near) == 1
    assert abs(near.centers[0] - full.centers[0]).max() < 25
