"""The stream host's window and alarm settings for the AWS stack, from a JSON file.

The keys are the site file's `[thresholds]` keys (one vocabulary for one box and for AWS), plus
`window_minutes`; a key left out keeps the host's default. Both the consumer's command line and the
CloudWatch net-score alarms are generated from the two objects this returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stream.alarms import AlarmConfig, default_alarm_window
from stream.engine import EngineConfig

KEYS = {
    "window_minutes": "rolling window lengths in minutes, a list (default [5, 15, 60])",
    "lateness_s": "how late an event may arrive and still count, seconds (default 120)",
    "min_tracks": "fewer customers than this in a window: 'too few customers' (default 5)",
    "alarm_window_minutes": "the window length the alarms watch, one of window_minutes (default 15)",
    "low_raise": "net score below this is a bad window (default -0.2)",
    "low_clear": "net score at or above this is a good window (default 0)",
    "z_raise": "standard errors below low_clear a bad window must be (default 2)",
    "hold_minutes": "a raised alarm stays raised at least this long (default 15)",
    "quiet_minutes": "a raised alarm resolves after this long without enough customers (default 30)",
    "silent_minutes": "a camera without a heartbeat this long raises camera_silent (default 5)",
}


def load_thresholds(path: Path) -> tuple[EngineConfig, AlarmConfig]:
    """The settings in `path`; a ValueError naming the file (and the key) for anything unusable."""
    try:
        values = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"{path}: cannot read the thresholds file ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON (line {error.lineno}: {error.msg})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: the thresholds file holds one JSON object of settings")
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown setting {', '.join(unknown)}; known: {', '.join(KEYS)}")
    try:
        return configs(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


def configs(values: dict[str, Any]) -> tuple[EngineConfig, AlarmConfig]:
    engine_defaults, alarm_defaults = EngineConfig(), AlarmConfig()
    windows = values.get("window_minutes", list(engine_defaults.window_minutes))
    if not isinstance(windows, list):
        raise ValueError(f"window_minutes must be a list of minutes, got {windows!r}")
    lateness = values.get("lateness_s", engine_defaults.allowed_lateness_ms / 1000)
    if isinstance(lateness, bool) or not isinstance(lateness, int | float) or lateness < 0:
        raise ValueError(f"lateness_s must be a number of seconds >= 0, got {lateness!r}")
    min_tracks = values.get("min_tracks", engine_defaults.min_tracks)
    engine = EngineConfig(window_minutes=tuple(windows), allowed_lateness_ms=round(lateness * 1000),
                          min_tracks=min_tracks)
    alarm_window = values.get("alarm_window_minutes", default_alarm_window(engine.window_minutes))
    if alarm_window not in engine.window_minutes:
        raise ValueError(f"alarm_window_minutes {alarm_window!r} is not one of window_minutes "
                         f"{list(engine.window_minutes)}")
    alarms = AlarmConfig(window_minutes=alarm_window, min_tracks=min_tracks,
                         **{key: values.get(key, getattr(alarm_defaults, key))
                            for key in ("low_raise", "low_clear", "z_raise", "hold_minutes", "quiet_minutes",
                                        "silent_minutes")})
    return engine, alarms
