"""A folder of still images, in name order, as a frame source (test footage, time-lapse cameras)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from edge.frame import Frame
from edge.sources.errors import SourceError

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


class ImageFolderSource:
    def __init__(self, folder: Path | str, fps: float = 10.0, start_ms: int | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"image folder {self.folder} does not exist")
        if fps <= 0:
            raise SourceError(f"image folder {self.folder}: fps must be positive, got {fps}")
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise SourceError(f"image folder {self.folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.fps = fps
        self.description = str(self.folder)
        self._start_ms = int(time.time() * 1000) if start_ms is None else start_ms

    def frames(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("%s: cannot read %s as an image, skipped", self.description, path.name)
                continue
            yield Frame(image, index, self._start_ms + round(index * 1000 / self.fps))
            index += 1
        if index == 0:
            raise SourceError(f"image folder {self.folder}: none of its {len(self.paths)} images could be read")

    def close(self) -> None:
        pass
