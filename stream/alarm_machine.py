"""One alarm's state (OK or ALARM) per (rule, site, camera), the M-of-N step of the window rules, and the
sentiment_alarm event each state change makes (what the rules mean: `stream.alarms`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.types import SentimentAlarm
from stream.alarm_config import AlarmConfig
from stream.ids import stable_event_id

Rule = Literal["low_sentiment", "sentiment_drop", "camera_silent"]
State = Literal["ALARM", "OK"]


@dataclass
class Machine:
    state: str = "OK"
    history: str = ""  # verdicts, newest last, one per minute: B(ad), G(ood), M(iddle), -(no data)
    raised_ms: int | None = None  # when the current ALARM was raised
    data_ms: int | None = None  # end of the last window with enough customers
    seen_ms: int | None = None  # end of the last window judged (minutes between count as no data)
    # at a raise: the start of the earliest bad window it was raised on (the "since" its reason says); only
    # read as the raise is told, so not part of the saved state
    spell_ms: int | None = None


def step(machine: Machine, config: AlarmConfig, verdict: str, time_ms: int) -> State | None:
    """Adds one window's verdict; the new state when it changes (``raise_m`` of the last ``raise_n`` windows
    bad: ALARM; ``clear_m`` of them good and the hold served: OK), else None."""
    c = config
    spacing = c.window_minutes if c.disjoint_windows else 1
    span = (c.raise_n - 1) * spacing + 1
    gap = 0 if machine.seen_ms is None or not c.disjoint_windows else (time_ms - machine.seen_ms) // 60_000 - 1
    machine.history = (machine.history + "-" * min(max(gap, 0), span) + verdict)[-span:]
    machine.seen_ms = time_ms
    if verdict != "-":
        machine.data_ms = time_ms
    judged = machine.history[::-1][::spacing]  # the last raise_n windows, one window length apart
    if machine.state == "OK" and judged.count("B") >= c.raise_m:
        machine.spell_ms = time_ms - (judged.rindex("B") * spacing + c.window_minutes) * 60_000
        machine.state, machine.history, machine.raised_ms = "ALARM", "", time_ms
        return "ALARM"
    if (machine.state == "ALARM" and judged.count("G") >= c.clear_m
            and (machine.raised_ms is None or time_ms - machine.raised_ms >= c.hold_minutes * 60_000)):
        machine.state, machine.history, machine.raised_ms = "OK", "", None
        return "OK"
    return None


def alarm_event(rule: Rule, site: str, camera: str | None, state: State, time_ms: int,
                value: float | None, threshold: float | None, reason: str) -> SentimentAlarm:
    """The sentiment_alarm event of one state change (its id from rule, key, state and time)."""
    return {
        "schema": "sentiment_alarm", "schema_version": "1.0",
        "event_id": stable_event_id(time_ms, "sentiment_alarm", rule, state, site, camera or ""),
        "site_id": site, "event_time_ms": time_ms, "camera_id": camera, "rule": rule, "state": state,
        "value": value, "threshold": threshold, "reason": reason[:1000],
    }
