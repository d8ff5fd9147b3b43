"""Keys nobody is at, over an `stream.alarms.AlarmEngine`'s ticks: quiet resolves and silent cameras.

Quiet resolves. A raised low_sentiment or sentiment_drop alarm whose key (site or camera) has had no
window with enough customers, and (sequential rule) no customer, for ``quiet_minutes`` (default 30) goes
back to OK, its reason saying so: nobody is there to be unhappy, and an alarm left raised through a closed
night is noise the next morning. Whether the drop rule could judge those windows (its baseline may not be
ready for the hour) does not matter: a site with customers is not quiet. A new bad spell raises a new alarm.

``camera_silent``: a camera that has sent heartbeats and sent none for more than ``silent_minutes``:
ALARM; OK again with its next heartbeat. Cameras never heard of raise nothing.

Both checks skip the ticks where no key can change (the engine's ``_quiet_due`` and ``_silence_due``: lower
bounds, so a later customer or heartbeat only delays the real moment, which the next full check finds).
The engine's fields are read and written here as `stream.alarm_state` reads and writes them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from schemas.types import SentimentAlarm
from stream import alarm_words
from stream.alarm_machine import Machine, alarm_event

if TYPE_CHECKING:
    from stream.alarms import AlarmEngine


def check_quiet(engine: AlarmEngine, now: int, alarms: list[SentimentAlarm]) -> None:
    """Raised sentiment alarms whose key (site or camera) has had no window with enough customers for
    quiet_minutes (whichever rule raised it: the drop rule's own verdicts, which need a baseline, do
    not decide whether anyone is there)."""
    limit = engine.config.quiet_minutes * 60_000
    if not limit or now < engine._quiet_due:
        return
    due = math.inf
    for (rule, site, camera), machine in sorted(engine._machines.items()):
        if machine.state != "ALARM" or rule == "camera_silent":
            continue
        times = [t for t in (machine.data_ms, machine.raised_ms, engine._data.get((site, camera))) if t is not None]
        if not times:  # restored from a version-1 state: the quiet spell counts from now
            machine.data_ms = now
            due = min(due, now + limit)
            continue
        since = max(times)
        if now - since < limit:
            due = min(due, since + limit)
            continue
        minutes = (now - since) // 60_000
        machine.state, machine.history, machine.raised_ms = "OK", "", None
        engine._cusums.pop((site, camera), None)
        if not camera:
            engine._site_cleared(rule, site)
        alarms.append(alarm_event(rule, site, camera or None, "OK", now, None, None,  # type: ignore[arg-type]
                                  alarm_words.quiet_resolved(alarm_words.place(site, camera or None), minutes,
                                                             engine._clock(site, since))))
    engine._quiet_due = due


def beat_moved(engine: AlarmEngine, site: str, camera: str, beat: int) -> None:
    """A camera's latest heartbeat moved on: a silent one may be back at the next check; one that was
    not silent goes silent no earlier than ``silent_minutes`` after this beat."""
    machine = engine._machines.get(("camera_silent", site, camera))
    if machine is not None and machine.state == "ALARM":
        engine._silence_due = -math.inf
    else:
        engine._silence_due = min(engine._silence_due, beat + engine.config.silent_minutes * 60_000)


def check_silence(engine: AlarmEngine, now: int, alarms: list[SentimentAlarm]) -> None:
    limit = engine.config.silent_minutes * 60_000
    if now <= engine._silence_due:
        return
    due = math.inf
    for (site, camera), beat in sorted(engine._last_beat.items()):
        silent = now - beat > limit
        if not silent:
            due = min(due, beat + limit)
        machine = engine._machines.get(("camera_silent", site, camera))
        state = machine.state if machine else "OK"
        if silent == (state == "ALARM"):
            continue
        minutes = round((now - beat) / 60_000, 2)
        engine._machines[("camera_silent", site, camera)] = Machine("ALARM" if silent else "OK")
        where, at = alarm_words.place(site, camera), engine._clock(site, beat)
        alarms.append(alarm_event(
            "camera_silent", site, camera, "ALARM" if silent else "OK", now, minutes,
            float(engine.config.silent_minutes),
            alarm_words.camera_silent(where, minutes, at) if silent else alarm_words.camera_back(where, at)))
    engine._silence_due = due
