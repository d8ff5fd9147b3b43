"""Optional annotated video (boxes, track ids, expression bars): a local file that never leaves the device.

With `blur_faces`, every face is pixelated before anything is drawn, so the file can be shown to
people who should see the system work but not who was in front of the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.quality import crop_box
from schemas.expressions import EXPRESSIONS

PIXELATE_BLOCKS = 8  # a face becomes 8x8 blocks: expression and identity both unreadable


@dataclass(frozen=True)
class TrackDrawing:
    track_id: str
    xyxy: np.ndarray
    probabilities: np.ndarray | None
    usable: bool
    seen_now: bool


def pixelate(image: np.ndarray, xyxy: np.ndarray) -> None:
    region = crop_box(image, xyxy)
    if region.shape[0] < 2 or region.shape[1] < 2:
        return
    small = cv2.resize(region, (PIXELATE_BLOCKS, PIXELATE_BLOCKS), interpolation=cv2.INTER_AREA)
    region[:] = cv2.resize(small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_NEAREST)


def draw(image: np.ndarray, tracks: list[TrackDrawing], faces: np.ndarray, blur_faces: bool) -> np.ndarray:
    """A copy of the frame with the annotations; `faces` are all detections (xyxy) this frame."""
    canvas = image.copy()
    if blur_faces:
        for box in list(faces) + [t.xyxy for t in tracks]:
            pixelate(canvas, box)
    for box in faces:
        x1, y1, x2, y2 = (int(v) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (160, 160, 160), 1)
    for track in tracks:
        x1, y1, x2, y2 = (int(v) for v in track.xyxy)
        color = (0, 200, 0) if track.usable else (0, 160, 255)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2 if track.seen_now else 1)
        cv2.putText(canvas, track.track_id, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1,
                    cv2.LINE_AA)
        if track.probabilities is not None:
            _bars(canvas, track.probabilities, x1, x2, y1)
    return canvas


BAR_PANEL_WIDTH = 100


def _bars(canvas: np.ndarray, probabilities: np.ndarray, box_left: int, box_right: int, top: int) -> None:
    """One bar per expression beside the box: right of it, else left of it, else inside its corner."""
    width = 60
    if box_right + 4 + BAR_PANEL_WIDTH <= canvas.shape[1]:
        left = box_right + 4
    elif box_left - 4 - BAR_PANEL_WIDTH >= 0:
        left = box_left - 4 - BAR_PANEL_WIDTH
    else:
        left = max(0, box_left + 4)
    top = max(0, top)
    panel = canvas[top:top + 12 * len(EXPRESSIONS) + 2, left:left + BAR_PANEL_WIDTH]
    panel[:] = (panel * 0.4).astype(canvas.dtype)  # darken behind the bars so they read on any background
    for i, (name, p) in enumerate(zip(EXPRESSIONS, probabilities, strict=True)):
        y = top + i * 12
        cv2.rectangle(canvas, (left, y), (left + int(width * float(p)), y + 9), (255, 200, 0), -1)
        cv2.putText(canvas, name[:4], (left + width + 2, y + 9), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1,
                    cv2.LINE_AA)


class VideoAnnotator:
    def __init__(self, path: Path | str, fps: float, blur_faces: bool = False) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".avi", ".mkv", ".mov"):
            raise ValueError(f"annotated video {self.path}: use a .mp4, .avi, .mkv or .mov name")
        if not self.path.parent.is_dir():
            raise ValueError(f"annotated video {self.path}: folder {self.path.parent} does not exist")
        self.fps = fps
        self.blur_faces = blur_faces
        self._writer: cv2.VideoWriter | None = None
        self._size = (0, 0)

    def write(self, image: np.ndarray, tracks: list[TrackDrawing], faces: np.ndarray) -> None:
        if self._writer is None:
            fourcc = cv2.VideoWriter.fourcc(*("mp4v" if self.path.suffix.lower() in (".mp4", ".mov") else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (image.shape[1], image.shape[0]))
            if not self._writer.isOpened():
                raise ValueError(f"annotated video {self.path}: OpenCV cannot write this file")
            self._size = (image.shape[1], image.shape[0])
        canvas = draw(image, tracks, faces, self.blur_faces)
        if (canvas.shape[1], canvas.shape[0]) != self._size:  # the source changed resolution mid-stream
            canvas = cv2.resize(canvas, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(canvas)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
