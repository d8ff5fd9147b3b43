"""Face quality gate: faces too small, blurred, too dark or overexposed are marked and left out of sentiment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

# Sharpness is measured at a fixed size so a large face and a small one of the same focus compare.
SHARPNESS_SIDE = 64


class Flaw(Enum):
    TOO_SMALL = "too_small"
    BLURRED = "blurred"
    TOO_DARK = "too_dark"
    OVEREXPOSED = "overexposed"


@dataclass(frozen=True)
class QualitySettings:
    min_face_px: int = 40
    min_sharpness: float = 15.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_brightness < self.max_brightness <= 255:
            raise ValueError(f"brightness bounds must satisfy 0 <= min < max <= 255, got "
                             f"{self.min_brightness}..{self.max_brightness}")


@dataclass(frozen=True)
class FaceQuality:
    face_px: int
    sharpness: float
    brightness: float
    flaws: tuple[Flaw, ...]

    @property
    def usable(self) -> bool:
        return not self.flaws

    def as_event_field(self) -> dict[str, object]:
        return {"face_px": self.face_px, "sharpness": round(self.sharpness, 2),
                "brightness": round(self.brightness, 2), "usable": self.usable}


def crop_box(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box's pixels (a view), clipped to the image; may be empty."""
    height, width = image.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    return image[y1:max(y1, y2), x1:max(x1, x2)]


def measure(gray_crop: np.ndarray, face_px: int, settings: QualitySettings) -> FaceQuality:
    if gray_crop.size == 0:
        return FaceQuality(face_px, 0.0, 0.0, (Flaw.TOO_SMALL,))
    brightness = float(gray_crop.mean())
    small = cv2.resize(gray_crop, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
    flaws = []
    if face_px < settings.min_face_px:
        flaws.append(Flaw.TOO_SMALL)
    if sharpness < settings.min_sharpness:
        flaws.append(Flaw.BLURRED)
    if brightness < settings.min_brightness:
        flaws.append(Flaw.TOO_DARK)
    if brightness > settings.max_brightness:
        flaws.append(Flaw.OVEREXPOSED)
    return FaceQuality(face_px, sharpness, brightness, tuple(flaws))
