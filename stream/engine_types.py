"""The window engine's configuration and outputs (values only; the engine is `stream.engine`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.privacy import DEFAULT_MIN_TRACKS
from schemas.types import SentimentWindow


@dataclass(frozen=True)
class EngineConfig:
    window_minutes: tuple[int, ...] = (5, 15, 60)
    allowed_lateness_ms: int = 120_000
    min_tracks: int = DEFAULT_MIN_TRACKS
    dedup_horizon_ms: int = 600_000  # event ids remembered this long behind the watermark
    max_idle_ticks: int = 1440  # a jump in event time with nothing open emits at most this many ticks

    def __post_init__(self) -> None:
        for name in ("allowed_lateness_ms", "min_tracks", "dedup_horizon_ms", "max_idle_ticks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if any(isinstance(m, bool) or not isinstance(m, int) for m in self.window_minutes):
            raise ValueError(f"window_minutes must be whole minutes, got {self.window_minutes}")
        lengths = tuple(sorted(set(self.window_minutes)))
        if not lengths or lengths[0] < 1:
            raise ValueError(f"window_minutes must be positive, got {self.window_minutes}")
        object.__setattr__(self, "window_minutes", lengths)
        if self.allowed_lateness_ms < 0 or self.dedup_horizon_ms < 0:
            raise ValueError("allowed_lateness_ms and dedup_horizon_ms must be >= 0")
        if self.min_tracks < 1:
            raise ValueError(f"min_tracks must be >= 1, got {self.min_tracks}")
        if self.max_idle_ticks < 1:
            raise ValueError(f"max_idle_ticks must be >= 1, got {self.max_idle_ticks}")
        if lengths[-1] > 24 * 60:
            raise ValueError(f"window_minutes must be at most 1440 (a day), got {lengths[-1]}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["window_minutes"] = list(self.window_minutes)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EngineConfig:
        return cls(**{**data, "window_minutes": tuple(data["window_minutes"])})


@dataclass(frozen=True)
class Tick:
    """One closed minute boundary: the windows ending there, the heartbeats of the minute and the
    customers whose visit ended in it (their ``track_end``: each customer once, with the track's
    smoothed final vote; the evidence the sequential alarm rules accumulate minute by minute)."""

    end_ms: int
    windows: list[SentimentWindow]
    heartbeats: list[tuple[str, str, int]]  # (site_id, camera_id, latest heartbeat time in the minute)
    flush: bool = False  # added by flush() past the latest event: closes windows, judged by no alarm rule
    # (site_id, camera_id, positive, negative, customers) of the visits that ended in the minute, sorted
    customers: list[tuple[str, str, int, int, int]] = field(default_factory=list)


@dataclass
class EngineOutput:
    ticks: list[Tick] = field(default_factory=list)
    late: list[Mapping[str, Any]] = field(default_factory=list)
    # (index of the event in the process() call's input, watermark after it) for each event that moved the
    # watermark past a minute boundary: the event that closed each tick (``Sites`` places ticks there). Of one
    # process() call: ``extend`` leaves it out (an index into another call's input means nothing here)
    passed: list[tuple[int, int]] = field(default_factory=list)

    @property
    def windows(self) -> list[SentimentWindow]:
        return [w for tick in self.ticks for w in tick.windows]

    def extend(self, other: EngineOutput) -> None:
        self.ticks.extend(other.ticks)
        self.late.extend(other.late)


@dataclass
class EngineStats:
    events: int = 0  # everything given to process()
    accepted: int = 0  # into an open pane
    faces: int = 0  # usable track_update observations
    low_quality: int = 0
    heartbeats: int = 0
    duplicates: int = 0  # copies of an event already seen (retries, replays): the first is kept
    conflicting_duplicates: int = 0  # same event_id, other content: dropped, the first is kept
    late: int = 0
    windows: int = 0
    ticks: int = 0
