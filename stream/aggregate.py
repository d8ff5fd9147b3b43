"""Mergeable aggregates: what a pane and a window accumulate.

Counting is by customer: a track counts once per window. A track's vote in a window is its
**latest** usable observation in that window (largest ``(event_time_ms, event_id)``): the edge
already smooths probabilities over the track, so the latest update is the track's best estimate,
and "latest" is a max, which merges exactly, in any order, and is unchanged by replays. The vote
contributes the track's ``top_class`` (for the shares and the net score) and its ``valence``.
A ``track_end`` votes like an update (it carries the track's smoothed summary and is its latest
word) but is not a face of its own: ``faces`` counts usable ``track_update``s only. An unusable
event of either kind never votes and counts in ``low_quality`` (the window's ``low_quality_faces``).

Exactness: everything that is summed is an integer. Valence is carried as an integer in units of
1e-6 (``VALENCE_SCALE``; quantisation error at most 5e-7, far below any interval width), so sums
and sums of squares merge associatively and commutatively, bit for bit; floating point appears
only when ``measures`` turns a finished aggregate into numbers.

* ``PaneAggregate``   one key (site, camera) and one 1-minute pane: faces, low-quality faces, each
                      track's latest vote, the last heartbeat. ``merge`` is associative,
                      commutative and idempotent on votes (counts add: deduplicate events first).
* ``WindowAggregate`` integer totals of a finished window over distinct tracks; ``+`` adds windows
                      with disjoint track sets (the cameras of one site: track ids are per camera).
* ``RunningStats``    count, sum, sum of squares: the mergeable baseline statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.expressions import EXPRESSIONS, NEGATIVE, POSITIVE

VALENCE_SCALE = 1_000_000
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(EXPRESSIONS)}
POSITIVE_INDEXES = tuple(CLASS_INDEX[c] for c in EXPRESSIONS if c in POSITIVE)
NEGATIVE_INDEXES = tuple(CLASS_INDEX[c] for c in EXPRESSIONS if c in NEGATIVE)

# (event_time_ms, event_id, top_class, valence): ordered by the first two, the latest wins.
Vote = tuple[int, str, str, float]


def later(a: Vote | None, b: Vote) -> Vote:
    """The later of two votes of one track (by event time, then event id)."""
    if a is None or b[0] > a[0] or (b[0] == a[0] and b[1] > a[1]):
        return b
    return a


def quantize_valence(valence: float) -> int:
    return round(valence * VALENCE_SCALE)


@dataclass
class PaneAggregate:
    """One key's 1-minute pane. Build with ``add``; combine with ``merge``."""

    faces: int = 0
    low_quality: int = 0
    votes: dict[str, Vote] = field(default_factory=dict)
    last_heartbeat_ms: int | None = None

    def add(self, event: Mapping[str, Any]) -> None:
        """Adds one validated, deduplicated face_expression or camera_heartbeat event."""
        if event["schema"] == "camera_heartbeat":
            t = event["event_time_ms"]
            if self.last_heartbeat_ms is None or t > self.last_heartbeat_ms:
                self.last_heartbeat_ms = t
            return
        if not event["quality"].get("usable", True):
            self.low_quality += 1
            return
        if event["kind"] == "track_update":
            self.faces += 1
        vote: Vote = (event["event_time_ms"], event["event_id"], event["top_class"], event["valence"])
        self.votes[event["track_id"]] = later(self.votes.get(event["track_id"]), vote)

    def merge(self, other: PaneAggregate) -> PaneAggregate:
        """A new pane holding both (same key and minute, from different batches or shards)."""
        votes = dict(self.votes)
        for track, vote in other.votes.items():
            votes[track] = later(votes.get(track), vote)
        beats = [b for b in (self.last_heartbeat_ms, other.last_heartbeat_ms) if b is not None]
        return PaneAggregate(self.faces + other.faces, self.low_quality + other.low_quality, votes,
                             max(beats) if beats else None)

    def to_json(self) -> dict[str, Any]:
        return {"faces": self.faces, "low_quality": self.low_quality,
                "votes": [[track, *vote] for track, vote in sorted(self.votes.items())],
                "last_heartbeat_ms": self.last_heartbeat_ms}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaneAggregate:
        return cls(int(data["faces"]), int(data["low_quality"]),
                   {v[0]: (int(v[1]), str(v[2]), str(v[3]), float(v[4])) for v in data["votes"]},
                   data.get("last_heartbeat_ms"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaneAggregate) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class WindowAggregate:
    """Integer totals of one window over distinct tracks. ``a + b`` needs disjoint track sets."""

    tracks: int = 0
    faces: int = 0
    low_quality: int = 0
    class_counts: tuple[int, ...] = (0,) * len(EXPRESSIONS)
    valence_sum: int = 0  # in 1/VALENCE_SCALE units
    valence_sumsq: int = 0  # in 1/VALENCE_SCALE**2 units

    def __add__(self, other: WindowAggregate) -> WindowAggregate:
        return WindowAggregate(
            self.tracks + other.tracks, self.faces + other.faces, self.low_quality + other.low_quality,
            tuple(a + b for a, b in zip(self.class_counts, other.class_counts, strict=True)),
            self.valence_sum + other.valence_sum, self.valence_sumsq + other.valence_sumsq)

    @property
    def positive(self) -> int:
        return sum(map(self.class_counts.__getitem__, POSITIVE_INDEXES))

    @property
    def negative(self) -> int:
        return sum(map(self.class_counts.__getitem__, NEGATIVE_INDEXES))

    @property
    def empty(self) -> bool:
        return self.tracks == 0 and self.faces == 0 and self.low_quality == 0

    @classmethod
    def from_votes(cls, votes: Iterable[Vote], faces: int = 0, low_quality: int = 0) -> WindowAggregate:
        """Totals over one vote per distinct track."""
        counts = [0] * len(EXPRESSIONS)
        n = total = squares = 0
        for vote in votes:
            counts[CLASS_INDEX[vote[2]]] += 1
            q = quantize_valence(vote[3])
            n += 1
            total += q
            squares += q * q
        return cls(n, faces, low_quality, tuple(counts), total, squares)

    @classmethod
    def from_panes(cls, panes: Iterable[PaneAggregate]) -> WindowAggregate:
        """The window of one (site, camera) key over its panes: the reference the engine must match."""
        merged = PaneAggregate()
        for pane in panes:
            merged = merged.merge(pane)
        return cls.from_votes(merged.votes.values(), merged.faces, merged.low_quality)


@dataclass(frozen=True)
class RunningStats:
    """Count, mean and spread of a stream of numbers; ``merge`` combines two exactly (up to rounding)."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> RunningStats:
        return RunningStats(self.count + 1, self.total + value, self.squares + value * value)

    def merge(self, other: RunningStats) -> RunningStats:
        return RunningStats(self.count + other.count, self.total + other.total, self.squares + other.squares)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    @property
    def std(self) -> float:
        if self.count < 2:
            return math.nan
        variance = (self.squares - self.total * self.total / self.count) / (self.count - 1)
        return math.sqrt(max(variance, 0.0))

    def to_json(self) -> list[float]:
        return [self.count, self.total, self.squares]

    @classmethod
    def from_json(cls, data: list[float]) -> RunningStats:
        return cls(int(data[0]), float(data[1]), float(data[2]))
