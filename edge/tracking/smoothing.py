"""Exponential smoothing of a track's expression probabilities, by elapsed time not frame count.

A half-life in milliseconds means the same smoothing at 5 fps and at 30 fps, so the event stream
does not depend on how often a camera delivers frames.
"""

from __future__ import annotations

import numpy as np


class ExpressionSmoother:
    def __init__(self, half_life_ms: float = 1000.0) -> None:
        if half_life_ms <= 0:
            raise ValueError(f"half_life_ms must be positive, got {half_life_ms}")
        self.half_life_ms = half_life_ms
        self.value: np.ndarray | None = None
        self.count = 0
        self._last_ms: int | None = None

    def update(self, probabilities: np.ndarray, time_ms: int) -> np.ndarray:
        sample = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if self.value is None or self._last_ms is None:
            self.value = sample.copy()
        else:
            dt = max(0, time_ms - self._last_ms)
            weight = 1.0 - 0.5 ** (dt / self.half_life_ms)
            self.value = (1.0 - weight) * self.value + weight * sample
        self._last_ms = time_ms
        self.count += 1
        return self.value
