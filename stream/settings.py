"""The stream host's window and alarm settings, declared once: one row per setting (key, type, a line
of help, check), its default read from `EngineConfig` / `AlarmConfig`.

Everything that names these settings is built from `THRESHOLDS`: the site file's `[thresholds]`
(`onebox.settings`), its commented example, `moodlens config show`, the flags of `stream run`, the
AWS stack's thresholds file and the demo. The host takes them as one JSON document of these keys
(`stream run --thresholds FILE`); `configs` turns such a document into the two configurations and
refuses an unknown key or a bad value with a message naming the key and where it came from.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream.alarm_config import AlarmConfig, check_alarms_fit_windows, default_alarm_window
from stream.engine_types import EngineConfig

Check = Callable[[Any], str | None]
NUMBER = (int, float)


def positive(value: Any) -> str | None:
    return None if math.isfinite(value) and value > 0 else f"must be a positive finite number, got {value}"


def at_least(low: float) -> Check:
    return lambda value: None if math.isfinite(value) and value >= low else (
        f"must be a finite number at least {low:g}, got {value}")


def between(low: float, high: float) -> Check:
    return lambda value: None if low <= value <= high else f"must be between {low:g} and {high:g}, got {value}"


def one_of(*choices: str) -> Check:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}; got {value!r}"


def one_of_int(*choices: int) -> Check:
    return lambda value: None if value in choices else (
        f"must be one of {', '.join(map(str, choices))}; got {value}")


def minutes_list(value: Any) -> str | None:
    if not value or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 24 * 60 for m in value):
        return f"must be a list of whole minutes from 1 to 1440, e.g. [5, 15, 60]; got {value!r}"
    return None


def kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return "a number" if kinds == NUMBER else " or ".join(names.get(k, k.__name__) for k in kinds)


def kind_of(value: Any) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(choices)})"


@dataclass(frozen=True)
class Threshold:
    """One setting: `engine` / `alarm` name the configuration fields it sets (`scale`: field = value * scale)."""

    key: str
    kind: type | tuple[type, ...]
    help: str
    check: Check | None = None
    engine: str | None = None
    alarm: str | None = None
    scale: int = 1

    @property
    def default(self) -> Any:
        owner, field = (EngineConfig(), self.engine) if self.engine else (AlarmConfig(), self.alarm)
        value = getattr(owner, str(field))
        if isinstance(value, tuple):
            return list(value)
        return value / self.scale if self.scale != 1 else value

    def problem(self, value: Any) -> str | None:
        if not is_kind(value, self.kind):
            return f"must be {kind_name(self.kind)}, got {kind_of(value)} {value!r}"
        return self.check(value) if self.check is not None else None


THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("window_minutes", list, "rolling window lengths in minutes", minutes_list, engine="window_minutes"),
    Threshold("min_tracks", int, "fewer customers than this in a window: 'too few customers'", at_least(1),
              engine="min_tracks", alarm="min_tracks"),
    Threshold("lateness_s", NUMBER, "how late an event may arrive and still count (seconds)", at_least(0),
              engine="allowed_lateness_ms", scale=1000),
    Threshold("alarm_window_minutes", int, "window length the alarms watch, one of window_minutes",
              at_least(1), alarm="window_minutes"),
    Threshold("low_raise", NUMBER, "net score below this is a bad window", between(-1, 1), alarm="low_raise"),
    Threshold("low_clear", NUMBER, "net score at or above this is a good window (>= low_raise)", between(-1, 1),
              alarm="low_clear"),
    Threshold("z_raise", NUMBER, "a bad window's net score is this many standard errors below low_clear "
              "(higher: fewer false alarms, later true ones; 0: the net score alone)", between(0, 10),
              alarm="z_raise"),
    Threshold("hold_minutes", int, "a raised alarm stays raised at least this long (0: no hold)",
              between(0, 24 * 60), alarm="hold_minutes"),
    Threshold("quiet_minutes", int, "a raised alarm resolves after this long without enough customers "
              "(site closed or quiet; 0: never)", between(0, 24 * 60), alarm="quiet_minutes"),
    Threshold("silent_minutes", int, "a camera with no heartbeat for this long raises camera_silent",
              at_least(1), alarm="silent_minutes"),
    Threshold("raise_m", int, "M of the last N windows bad raise low_sentiment", at_least(1), alarm="raise_m"),
    Threshold("raise_n", int, "N: the windows M of N looks at", at_least(1), alarm="raise_n"),
    Threshold("clear_m", int, "M of the last N windows good clear it", at_least(1), alarm="clear_m"),
    Threshold("camera_alarms", bool, "judge each camera too, not only the site", alarm="cameras"),
    Threshold("disjoint_windows", bool, "the N windows of M-of-N are one window length apart (independent)",
              alarm="disjoint_windows"),
    Threshold("drop_detection", str, "sentiment_drop: 'sequential' (a CUSUM over the customers) or 'windows' "
              "(M of N windows below the baseline)", one_of("sequential", "windows"), alarm="drop_detection"),
    Threshold("drop_sigmas", NUMBER, "windows rule: a drop is this many spreads below the baseline", at_least(0),
              alarm="drop_sigmas"),
    Threshold("drop_clear_sigmas", NUMBER, "windows rule: a drop clears within this many spreads", at_least(0),
              alarm="drop_clear_sigmas"),
    Threshold("drop_min", NUMBER, "windows rule: a drop is at least this much net score", at_least(0),
              alarm="drop_min"),
    Threshold("drop_sampling_noise", bool, "windows rule: the spread includes the window's own sampling error",
              alarm="drop_sampling_noise"),
    Threshold("baseline_min_days", int, "distinct days (for an hour of the week: weeks) before a baseline judges",
              at_least(0), alarm="baseline_min_days"),
    Threshold("baseline_keep_days", int, "the latest days a baseline keeps (>= baseline_min_days)", at_least(1),
              alarm="baseline_keep_days"),
    Threshold("sour_share", NUMBER, "sequential rule: the sour room it looks for, this share of the happy "
              "look unhappy", between(0, 1), alarm="sour_share"),
    Threshold("false_alarms_per_month", NUMBER, "sequential rule: false alarms per site on its usual mood "
              "(sets the threshold)", positive, alarm="false_alarms_per_month"),
    Threshold("drop_allowance", NUMBER, "sequential rule: day-to-day spreads of the usual net score tolerated",
              at_least(0), alarm="drop_allowance"),
    Threshold("low_against_usual", bool, "low_sentiment: a low window counts only if it is also below the "
              "site's usual band at that hour (once learnt)", alarm="low_against_usual"),
    Threshold("low_new_site", NUMBER, "low_sentiment with low_against_usual: at an hour nothing is learnt for "
              "yet (a new site), a window counts only below this net score", between(-1, 1), alarm="low_new_site"),
    Threshold("recovery_odds", NUMBER, "sequential rule: a raised alarm clears at this much evidence for the "
              "usual mood", at_least(1), alarm="recovery_odds"),
)
BY_KEY = {row.key: row for row in THRESHOLDS}


class SettingError(ValueError):
    """A bad thresholds document: `source` (a file, a flag), `key` (None: settings that do not fit together)."""

    def __init__(self, source: str, key: str | None, message: str) -> None:
        self.source, self.key, self.message = source, key, message
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


def configs(values: Mapping[str, Any], source: str) -> tuple[EngineConfig, AlarmConfig]:
    """The configurations a document of settings gives; a key left out keeps its default, the alarm
    window's default is 15 minutes where the engine has that window, else its longest."""
    for key, value in values.items():
        if key not in BY_KEY:
            raise SettingError(source, key, f"unknown setting{did_you_mean(key, list(BY_KEY))}")
        if message := BY_KEY[key].problem(value):
            raise SettingError(source, key, message)
    engine: dict[str, Any] = {}
    alarms: dict[str, Any] = {}
    for key, value in values.items():
        row = BY_KEY[key]
        field_value = tuple(value) if isinstance(value, list) else (
            round(value * row.scale) if row.scale != 1 else value)
        if row.engine:
            engine[row.engine] = field_value
        if row.alarm:
            alarms[row.alarm] = field_value
    try:
        engine_config = EngineConfig(**engine)
        alarms.setdefault("window_minutes", default_alarm_window(engine_config.window_minutes))
        alarm_config = AlarmConfig(**alarms)
        check_alarms_fit_windows(alarm_config, engine_config)
    except ValueError as error:
        raise SettingError(source, None, str(error)) from None
    return engine_config, alarm_config


def document(engine: EngineConfig, alarms: AlarmConfig) -> dict[str, Any]:
    """Every setting's value in the two configurations: what `configs` turns back into them."""
    values: dict[str, Any] = {}
    for row in THRESHOLDS:
        value = getattr(engine, row.engine) if row.engine else getattr(alarms, str(row.alarm))
        values[row.key] = list(value) if isinstance(value, tuple) else (
            value / row.scale if row.scale != 1 else value)
    return values


def parse(text: str, source: str) -> tuple[EngineConfig, AlarmConfig]:
    """A JSON document of settings, `source` naming it in every message."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingError(source, None, f"not JSON (line {error.lineno}: {error.msg})") from None
    if not isinstance(values, dict):
        raise SettingError(source, None, "a thresholds document holds one JSON object of settings")
    return configs(values, source)


def load(path: Path) -> tuple[EngineConfig, AlarmConfig]:
    """The settings in a thresholds file; a SettingError naming the file (and the key) for anything unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingError(str(path), None, f"cannot read the thresholds file ({error.strerror})") from None
    return parse(text, str(path))
