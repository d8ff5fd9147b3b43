"""Alarm state machines: M of N with hysteresis, baseline drop, camera silence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.validation import validate_event
from stream.aggregate import WindowAggregate
from stream.alarms import AlarmConfig, AlarmEngine, hour_of_week
from stream.engine import MINUTE_MS, Tick
from stream.measures import window_event
from tests.stream.helpers import T0

# The M-of-N and dead-band mechanics alone, over consecutive windows: no evidence gate, hold or quiet
# resolution (those have their own tests in test_alarm_behaviour.py).
MECHANICS: dict[str, Any] = {"z_raise": 0.0, "hold_minutes": 0, "quiet_minutes": 0, "drop_sampling_noise": False,
                             "disjoint_windows": False}
# the absolute level alone judges low_sentiment here: these are the M-of-N mechanics
CONFIG = AlarmConfig(window_minutes=15, min_tracks=5, low_raise=-0.2, low_clear=0.0, raise_m=2, raise_n=3,
                     clear_m=2, cameras=False, baseline_min_days=1_000, baseline_keep_days=1_000,
                     low_against_usual=False, **MECHANICS)


def window(end: int, net: float | None, tracks: int = 10, camera: str | None = None) -> Any:
    if net is None:
        return window_event("cafe", camera, end, 15, WindowAggregate(tracks=2, faces=2,
                                                                     class_counts=(0, 0, 0, 1, 0, 0, 1)), 5)
    positive = round((net + 1) / 2 * tracks)  # tracks split between happy and sad
    counts = (0, 0, 0, positive, tracks - positive, 0, 0)
    return window_event("cafe", camera, end, 15, WindowAggregate(tracks, tracks, 0, counts), 5)


def states(nets: list[float | None], config: AlarmConfig = CONFIG) -> list[tuple[int, str]]:
    engine = AlarmEngine(config)
    ticks = [Tick(T0 + (i + 1) * MINUTE_MS, [window(T0 + (i + 1) * MINUTE_MS, net)], [])
             for i, net in enumerate(nets)]
    alarms = engine.process(ticks)
    assert all(validate_event(a) == [] for a in alarms)
    return [((a["event_time_ms"] - T0) // MINUTE_MS - 1, a["state"]) for a in alarms if a["rule"] == "low_sentiment"]


@pytest.mark.parametrize(("nets", "expected"), [
    ([0.4, -0.4, 0.4, 0.4], []),  # one bad window of three: no alarm
    ([0.4, -0.4, 0.4, -0.4], [(3, "ALARM")]),  # two of three
    ([-0.4, -0.4, -0.1, -0.1, -0.1, -0.1], [(1, "ALARM")]),  # dead band: stays in alarm, no flapping
    ([-0.4, -0.4, -0.1, 0.2, 0.2], [(1, "ALARM"), (4, "OK")]),  # recovery needs clear_m good windows
    ([-0.4, None, None, -0.4], []),  # insufficient data is neither bad nor good, but is one of the N
    ([-0.4, None, -0.4], [(2, "ALARM")]),
    ([-0.4, -0.4, 0.2, 0.2, -0.4, -0.4], [(1, "ALARM"), (3, "OK"), (5, "ALARM")]),
])
def test_low_sentiment_m_of_n_with_hysteresis(nets: list[float | None], expected: list[tuple[int, str]]) -> None:
    assert states(nets) == expected


def test_sentiment_drop_windows_against_the_hour_of_week_baseline() -> None:
    """The window rule (``drop_detection="windows"``): three weeks of +0.4/+0.6 at this hour teach the
    baseline (one day each: the hour of the week has three distinct days); a +0.0 spell of windows of
    40 customers is a drop."""
    config = AlarmConfig(window_minutes=15, min_tracks=5, raise_m=2, raise_n=3, clear_m=2, low_raise=-0.9,
                         low_clear=-0.9, baseline_min_days=3, drop_min=0.2, drop_sigmas=2.0,
                         drop_detection="windows", **MECHANICS)
    engine = AlarmEngine(config)
    hour = T0 // 3_600_000 * 3_600_000
    week = 7 * 24 * 60
    learnt = [Tick(hour + (w * week + i + 1) * MINUTE_MS,
                   [window(hour + (w * week + i + 1) * MINUTE_MS, 0.6 if i % 2 else 0.4, tracks=40)], [])
              for w in range(3) for i in range(30)]
    assert engine.process(learnt) == []
    now = hour + 3 * week * MINUTE_MS
    sour = [Tick(now + (i + 1) * MINUTE_MS, [window(now + (i + 1) * MINUTE_MS, net, tracks=40)], [])
            for i, net in zip(range(30, 36), [0.0, 0.0, 0.5, 0.5, 0.5, 0.5], strict=True)]
    alarms = engine.process(sour)
    assert [(a["rule"], a["state"], a["event_time_ms"]) for a in alarms] == [
        ("sentiment_drop", "ALARM", now + 32 * MINUTE_MS), ("sentiment_drop", "OK", now + 34 * MINUTE_MS)]
    assert alarms[0]["threshold"] < 0.3
    # the next hour of the week has its own (empty) baseline: no alarm there
    other = now + 3_600_000
    assert engine.process([Tick(other + MINUTE_MS * (i + 1), [window(other + MINUTE_MS * (i + 1), -0.5)], [])
                           for i in range(5)]) == []


def test_camera_silent_raises_after_n_minutes_and_clears_on_the_next_heartbeat() -> None:
    engine = AlarmEngine(AlarmConfig(silent_minutes=3))
    beats = {1: T0 + 30_000, 9: T0 + 8 * MINUTE_MS + 10_000}
    alarms = engine.process([Tick(T0 + m * MINUTE_MS, [], [("cafe", "cam-a", beats[m])] if m in beats else [])
                             for m in range(1, 12)])
    assert [(a["state"], (a["event_time_ms"] - T0) // MINUTE_MS) for a in alarms] == [("ALARM", 4), ("OK", 9)]
    assert alarms[0]["rule"] == "camera_silent" and alarms[0]["camera_id"] == "cam-a"
    assert alarms[0]["value"] == pytest.approx(3.5)


def test_alarm_state_survives_snapshot_and_restore() -> None:
    engine = AlarmEngine(CONFIG)
    engine.process([Tick(T0 + MINUTE_MS, [window(T0 + MINUTE_MS, -0.5)], [("cafe", "c", T0)])])
    restored = AlarmEngine.restore(json.loads(json.dumps(engine.snapshot())))
    tick = Tick(T0 + 2 * MINUTE_MS, [window(T0 + 2 * MINUTE_MS, -0.5)], [])
    assert restored.process([tick]) == engine.process([tick]) != []
    assert restored.state_of("low_sentiment", "cafe") == "ALARM"


@pytest.mark.parametrize(("iso_day", "hour", "expected"), [(0, 0, 0), (0, 13, 13), (6, 23, 167)])
def test_hour_of_week_starts_monday_utc(iso_day: int, hour: int, expected: int) -> None:
    monday = 1_789_344_000_000  # 2026-09-14 00:00 UTC, a Monday
    assert hour_of_week(monday + iso_day * 86_400_000 + hour * 3_600_000) == expected


def test_hysteresis_config_is_checked() -> None:
    with pytest.raises(ValueError):
        AlarmConfig(low_raise=0.0, low_clear=-0.1)
    with pytest.raises(ValueError):
        AlarmConfig(raise_m=4, raise_n=3)


@pytest.mark.parametrize(("settings", "named"), [
    ({"silent_minutes": -1}, "silent_minutes"), ({"silent_minutes": 0}, "silent_minutes"),
    ({"window_minutes": 0}, "window_minutes"), ({"min_tracks": 0}, "min_tracks"),
    ({"raise_m": 6}, "raise_m"), ({"low_raise": -2.0}, "low_raise"), ({"low_clear": float("nan")}, "low_clear"),
    ({"low_raise": 0.5, "low_clear": 0.1}, "low_clear"), ({"drop_min": -0.1}, "drop_min")])
def test_alarm_settings_that_make_no_sense_are_refused(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        AlarmConfig(**settings)


def test_an_alarm_window_the_engine_never_emits_is_refused_with_the_choices() -> None:
    from stream.embedded import RunnerConfig
    from stream.engine import EngineConfig

    with pytest.raises(ValueError, match="alarm window_minutes 7 is not one of the window lengths; choose one "
                                         "of 5, 15, 60"):
        RunnerConfig(alarms=AlarmConfig(window_minutes=7))
    with pytest.raises(ValueError, match="batch_size"):
        RunnerConfig(batch_size=0)
    RunnerConfig(engine=EngineConfig(window_minutes=(7,)), alarms=AlarmConfig(window_minutes=7))
