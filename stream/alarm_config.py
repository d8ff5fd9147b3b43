"""The alarm rules' settings (what they mean: `stream.alarms`), checked when built."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.privacy import DEFAULT_MIN_TRACKS
from stream.engine_types import EngineConfig


def default_alarm_window(window_minutes: Iterable[int]) -> int:
    """The window length the alarms watch when none is chosen: 15 minutes where the engine has that
    window, else its longest (one rule for `stream run` and the AWS stack's thresholds file)."""
    lengths = list(window_minutes)
    return 15 if 15 in lengths else max(lengths)


@dataclass(frozen=True)
class AlarmConfig:
    window_minutes: int = 15
    min_tracks: int = DEFAULT_MIN_TRACKS
    low_raise: float = -0.2
    low_clear: float = 0.0
    raise_m: int = 2
    raise_n: int = 3
    clear_m: int = 2
    cameras: bool = True
    drop_sigmas: float = 2.0
    drop_clear_sigmas: float = 1.0
    drop_min: float = 0.2
    baseline_min_days: int = 3  # distinct days (for an hour of the week: weeks) before a baseline judges
    baseline_keep_days: int = 7  # the latest days a baseline keeps (its decay: `stream.baseline`)
    silent_minutes: int = 5
    z_raise: float = 2.0  # a bad window is this many standard errors below low_clear
    hold_minutes: int = 15  # an alarm stays raised at least this long (one window length)
    quiet_minutes: int = 30  # no window with enough customers this long: the alarm resolves (0: never)
    drop_sampling_noise: bool = True  # the drop rule's spread includes the window's own sampling error
    disjoint_windows: bool = True  # the N windows of M-of-N are one window length apart (independent)
    # sentiment_drop: "sequential" (a CUSUM over the customers, `stream.sequential`) or "windows" (M of N)
    drop_detection: str = "sequential"
    sour_share: float = 0.5  # the sour room the CUSUM looks for: this share of the happy look unhappy
    false_alarms_per_month: float = 1.0  # per site on its usual mood: sets the CUSUM's threshold
    drop_allowance: float = 0.5  # day-to-day spreads of the usual net score the sequential rule tolerates
    recovery_odds: float = 1000.0  # a raised sequential alarm clears at this much evidence for the usual mood
    low_against_usual: bool = True  # low_sentiment: a low window is bad only if also below the site's usual band
    low_new_site: float = -0.4  # low_against_usual, nothing learnt for the hour yet: a window counts below this

    def __post_init__(self) -> None:
        for name in ("window_minutes", "min_tracks", "raise_m", "raise_n", "clear_m", "baseline_min_days",
                     "baseline_keep_days", "silent_minutes", "hold_minutes", "quiet_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"alarm setting {name} must be an integer, got {value!r}")
        for name in ("low_raise", "low_clear", "drop_sigmas", "drop_clear_sigmas", "drop_min", "z_raise",
                     "sour_share", "false_alarms_per_month", "recovery_odds", "drop_allowance", "low_new_site"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"alarm setting {name} must be a finite number, got {value!r}")
        if self.window_minutes < 1:
            raise ValueError(f"alarm window_minutes must be >= 1, got {self.window_minutes}")
        if self.min_tracks < 1:
            raise ValueError(f"alarm min_tracks must be >= 1, got {self.min_tracks}")
        if self.silent_minutes < 1:
            raise ValueError(f"silent_minutes must be >= 1 (a camera is silent after that many minutes "
                             f"without a heartbeat), got {self.silent_minutes}")
        if not 1 <= self.raise_m <= self.raise_n or not 1 <= self.clear_m <= self.raise_n:
            raise ValueError(f"need 1 <= raise_m, clear_m <= raise_n; got raise_m={self.raise_m}, "
                             f"clear_m={self.clear_m}, raise_n={self.raise_n}")
        for name in ("low_raise", "low_clear", "low_new_site"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a net score: between -1 and 1, got {getattr(self, name)}")
        if self.low_clear < self.low_raise:
            raise ValueError(f"low_clear ({self.low_clear}) must be >= low_raise ({self.low_raise}) (hysteresis)")
        if min(self.drop_sigmas, self.drop_clear_sigmas, self.drop_min) < 0 or self.baseline_min_days < 0:
            raise ValueError("drop_sigmas, drop_clear_sigmas, drop_min and baseline_min_days must be >= 0")
        if self.baseline_keep_days < max(self.baseline_min_days, 1):
            raise ValueError(f"baseline_keep_days ({self.baseline_keep_days}) must be >= baseline_min_days "
                             f"({self.baseline_min_days}) and >= 1")
        if self.drop_detection not in ("sequential", "windows"):
            raise ValueError(f"alarm setting drop_detection must be 'sequential' or 'windows', "
                             f"got {self.drop_detection!r}")
        if not 0.0 < self.sour_share < 1.0:
            raise ValueError(f"alarm setting sour_share must be between 0 and 1 (the share of happy customers "
                             f"a sour room turns unhappy), got {self.sour_share}")
        if self.drop_allowance < 0.0:
            raise ValueError(f"alarm setting drop_allowance must be >= 0, got {self.drop_allowance}")
        if self.false_alarms_per_month <= 0.0 or self.recovery_odds <= 1.0:
            raise ValueError(f"false_alarms_per_month must be > 0 and recovery_odds > 1, got "
                             f"{self.false_alarms_per_month} and {self.recovery_odds}")
        for name, what in (("z_raise", "standard errors of evidence (0: the net score alone decides)"),
                           ("hold_minutes", "minutes a raised alarm stays raised (0: no hold)"),
                           ("quiet_minutes", "minutes without customers before an alarm resolves (0: never)")):
            if getattr(self, name) < 0:
                raise ValueError(f"alarm setting {name} must be >= 0 ({what}), got {getattr(self, name)}")
        for name in ("drop_sampling_noise", "disjoint_windows", "cameras", "low_against_usual"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"alarm setting {name} must be true or false, got {getattr(self, name)!r}")


def check_alarms_fit_windows(alarms: AlarmConfig, engine: EngineConfig) -> None:
    """Raises ValueError when the alarms watch a window length the engine never emits (which would
    silently turn the low-sentiment and drop alarms off)."""
    if alarms.window_minutes not in engine.window_minutes:
        allowed = ", ".join(str(m) for m in engine.window_minutes)
        raise ValueError(f"alarm window_minutes {alarms.window_minutes} is not one of the window lengths; "
                         f"choose one of {allowed}")


# The rules as they were before hold, quiet resolution and evidence in standard errors (the benchmark's
# "before"; also what a config restored from a version-1 state would have meant).
LEGACY = AlarmConfig(z_raise=0.0, hold_minutes=0, quiet_minutes=0, drop_sampling_noise=False,
                     disjoint_windows=False, raise_m=3, raise_n=5, clear_m=4, drop_sigmas=2.0,
                     drop_detection="windows", low_against_usual=False)
WINDOWS = AlarmConfig(drop_detection="windows", low_against_usual=False)  # the default with the window drop rule
