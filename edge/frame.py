"""One decoded camera frame. Pixels stay inside the edge process: nothing here is ever serialised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, repr=False)
class Frame:
    image: np.ndarray  # BGR uint8, (H, W, 3)
    index: int  # 0-based position in the source
    time_ms: int  # UTC epoch ms when the frame was taken (or its place on the video's timeline)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def __repr__(self) -> str:
        # Never the pixels: reprs end up in logs and tracebacks.
        return f"Frame(index={self.index}, time_ms={self.time_ms}, size={self.width}x{self.height})"
