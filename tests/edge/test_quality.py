from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.quality import Flaw, QualitySettings, crop_box, measure


def textured(brightness: float, side: int = 96) -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 30, (side, side))
    return np.clip(brightness + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("crop", "face_px", "flaws"), [
    (textured(120), 96, ()),
    (textured(120), 20, (Flaw.TOO_SMALL,)),
    (cv2.GaussianBlur(textured(120), (0, 0), 6), 96, (Flaw.BLURRED,)),
    (textured(15), 96, (Flaw.TOO_DARK,)),
    (textured(245), 96, (Flaw.OVEREXPOSED,)),
    (np.full((96, 96), 3, np.uint8), 10, (Flaw.TOO_SMALL, Flaw.BLURRED, Flaw.TOO_DARK)),
    (np.zeros((0, 0), np.uint8), 0, (Flaw.TOO_SMALL,)),
])
def test_gate_names_every_flaw(crop, face_px, flaws):
    quality = measure(crop, face_px, QualitySettings())
    assert quality.flaws == flaws
    assert quality.usable is (not flaws)


def test_sharpness_does_not_depend_on_crop_size():
    small, large = textured(120, 64), cv2.resize(textured(120, 64), (256, 256), interpolation=cv2.INTER_NEAREST)
    a, b = measure(small, 64, QualitySettings()), measure(large, 256, QualitySettings())
    assert a.sharpness == pytest.approx(b.sharpness, rel=0.3)


def test_event_field_matches_the_contract_shape():
    field = measure(textured(120), 96, QualitySettings()).as_event_field()
    assert set(field) == {"face_px", "sharpness", "brightness", "usable"}
    assert field["face_px"] == 96 and field["usable"] is True


@pytest.mark.parametrize(("box", "shape"), [
    ([10, 10, 30, 40], (30, 20)), ([-5, -5, 10, 10], (10, 10)), ([90, 90, 150, 150], (10, 10)),
    ([200, 200, 300, 300], (0, 0)),
])
def test_crop_box_clips_to_the_image(box, shape):
    assert crop_box(np.zeros((100, 100), np.uint8), np.array(box, np.float32)).shape == shape


def test_inverted_brightness_bounds_are_refused():
    with pytest.raises(ValueError, match="brightness"):
        QualitySettings(min_brightness=200, max_brightness=100)
