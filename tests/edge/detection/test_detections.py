from __future__ import annotations

import numpy as np
import pytest

from edge.detection.detections import Detections, box_iou, suppress_overlaps


@pytest.mark.parametrize(("a", "b", "iou"), [
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
    ([0, 0, 10, 10], [5, 0, 15, 10], 1 / 3),
    ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
    ([0, 0, 10, 10], [2, 2, 8, 8], 0.36),
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
])
def test_box_iou(a, b, iou):
    assert box_iou(np.array(a), np.array(b))[0, 0] == pytest.approx(iou)


def test_from_xywh_and_back_to_the_original_scale():
    detections = Detections.from_xywh(np.array([[10, 20, 30, 40]]))
    assert detections.xyxy.tolist() == [[10, 20, 40, 60]]
    assert detections.scaled(0.5, (100, 0)).xyxy.tolist() == [[120, 40, 180, 120]]


def test_rows_stay_aligned_when_indexed():
    detections = Detections(np.array([[0, 0, 1, 1], [5, 5, 9, 9]]), np.array([0.2, 0.9]))
    picked = detections[[1]]
    assert picked.xyxy.tolist() == [[5, 5, 9, 9]]
    assert picked.confidence is not None and picked.confidence.tolist() == pytest.approx([0.9])


@pytest.mark.parametrize(("xyxy", "confidence", "message"), [
    ([[10, 0, 5, 5]], None, "x2 >= x1"),
    ([[0, 0, 5, 5]], [0.1, 0.2], "confidence has 2 rows"),
])
def test_malformed_records_are_refused(xyxy, confidence, message):
    with pytest.raises(ValueError, match=message):
        Detections(np.array(xyxy), None if confidence is None else np.array(confidence))


def test_suppress_overlaps_keeps_the_larger_box():
    detections = Detections(np.array([[0, 0, 10, 10], [0, 0, 12, 12], [50, 50, 60, 60]]))
    assert suppress_overlaps(detections).xyxy.tolist() == [[0, 0, 12, 12], [50, 50, 60, 60]]
