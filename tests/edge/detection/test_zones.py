from __future__ import annotations

import re

import numpy as np
import pytest

from edge.detection.detections import Detections
from edge.detection.zones import ZoneMask, parse_named_zone, parse_polygon


@pytest.mark.parametrize(("text", "corners"), [
    ("0,0,0.5,0.5", 4), ("0.1,0.1,0.9,0.1,0.5,0.9", 3),
])
def test_parse_polygon(text, corners):
    assert parse_polygon(text).shape == (corners, 2)


@pytest.mark.parametrize(("text", "message"), [
    ("a,b,c,d", "comma-separated numbers"), ("0,0,0.5", "need 4 numbers"), ("0.5,0,0.2,1", "x1 < x2"),
    ("0,0,1.5,1", "fractions of the frame"),
])
def test_bad_polygons_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_polygon(text)


@pytest.mark.parametrize("text", ["counter", "=0,0,1,1", "bad name=0,0,1,1", "door\n=0,0,1,1", "x" * 65 + "=0,0,1,1"])
def test_bad_named_zones_are_refused_naming_the_zone(text):
    with pytest.raises(ValueError, match=re.escape(f"zone {text!r}:")):
        parse_named_zone(text)


def test_faces_centred_in_an_excluded_zone_are_dropped():
    mask = ZoneMask(exclude=[parse_polygon("0,0,0.5,1")])  # left half: the staff counter
    faces = Detections(np.array([[10, 10, 60, 60], [300, 10, 350, 60], [180, 10, 260, 60]]))
    kept = mask.keep(faces, width=400, height=200)
    assert kept.xyxy.tolist() == [[300, 10, 350, 60], [180, 10, 260, 60]]  # the last straddles, centre right


def test_blank_clears_excluded_pixels_only():
    mask = ZoneMask(exclude=[parse_polygon("0,0,0.5,1")])
    blanked = mask.blank(np.full((100, 200), 200, np.uint8))
    assert blanked[:, :95].max() == 0 and blanked[:, 105:].min() == 200


def test_named_zone_lookup():
    mask = ZoneMask(named=dict([parse_named_zone("door=0,0,0.3,1"), parse_named_zone("till=0.7,0,1,1")]))
    assert [mask.zone_of(0.1, 0.5), mask.zone_of(0.5, 0.5), mask.zone_of(0.9, 0.5)] == ["door", None, "till"]
