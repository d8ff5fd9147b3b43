"""Exponential backoff with full jitter: many cameras coming back at once must not retry in lockstep."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float = 0.2
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry): uniform in [0, ceiling]."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(attempt, 32)))
        return self.rng.uniform(0.0, ceiling)
