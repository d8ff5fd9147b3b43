"""Sites that stop sending, told in wall-clock time: the ``site_unreachable`` alarm.

Event time cannot tell an outage: a site that sends nothing has no event time, and moving it on by
the wall clock would make every event its spools deliver afterwards late. So the outage is watched
on the wall clock, beside event time and without touching it:

- A site that has sent at least one event to this host and then nothing for ``after_minutes``
  raises ``site_unreachable`` (rule of the sentiment_alarm event, ``camera_id`` null, ``value`` the
  minutes without input, ``threshold`` ``after_minutes``).
- Its first event afterwards clears it, before that event's windows are emitted.
- A site this host has never heard from raises nothing: its configured cameras are watched by the
  box that runs them (``camera_silent`` with the edge's reason), and on AWS by the edge's heartbeats.

How long a silent site's last windows stay open is bounded separately, by the host's idle advance
(``HostConfig.idle_advance_ms``, default one hour): only past it does the wall clock move that site's
event time on.

A restart is invisible to the alarm. What it needs of a site, its `Reachability` (the wall clock of
its last event, and whether it is reported unreachable), is part of the site's saved state
(``stream.host.sites.SiteState``, site state version 3) and committed with it, so a restarted host (a
redeployed consumer, a box's host killed with -9, a site moving to another KCL worker) counts a silent
site from its last event before the restart, does not report an outage already reported, and sends the
one OK when the site returns. The host commits its state as soon as an outage is raised or cleared
(``stream.host.loop``), whatever its commit interval; and it judges a silence only once a poll has read
all there was (a host restarted after a while down reads its backlog first: the time it was down is not
the sites' silence). In KCL mode a worker loads a site when a record of it comes, so a site silent across
a worker's restart is watched again once it sends. A state saved by version 2 keeps no reachability:
for that one restart its sites count their silence from the restart, and a site already reported is
reported again once the silence has lasted ``after_minutes`` of the new host's clock (said in the log).

The alarms carry wall-clock times and are not replayed byte for byte (like the idle advance).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from schemas.types import SentimentAlarm
from stream import alarm_words
from stream.ids import stable_event_id
from stream.window_evidence import SiteClock

RULE: Final = "site_unreachable"
log = logging.getLogger(__name__)


@dataclass
class Reachability:
    """A site's wall-clock facts (seconds): when its last event arrived (None: not known, the host counts
    from the first time it looks), and, while it is reported unreachable, that last event's time."""

    last_input_s: float | None = None
    unreachable_since_s: float | None = None

    def last_input(self, now_s: float) -> float:
        """The last input's time; not known (a state that did not keep it): counted from ``now_s`` on."""
        if self.last_input_s is None:
            self.last_input_s = now_s
        return self.last_input_s

    def to_json(self) -> dict[str, float | None]:
        return {"last_input_s": self.last_input_s, "unreachable_since_s": self.unreachable_since_s}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Reachability:
        """A saved one (``to_json``); ValueError naming the field that is not a time."""
        if not isinstance(document, Mapping):
            raise ValueError(f"reachability {document!r}: expected an object")
        times = {}
        for key in ("last_input_s", "unreachable_since_s"):
            value = document[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value)):
                raise ValueError(f"reachability {key} {value!r}: expected a wall-clock time in seconds or null")
            times[key] = None if value is None else float(value)
        return cls(**times)


def saved_reachability(document: Mapping[str, Any] | None, where: str) -> Reachability:
    """A site's reachability from its saved state (``where``: the file or object, for the log); None, a state
    saved before it was kept (version 2): none known, said in the log."""
    if document is not None:
        return Reachability.from_json(document)
    log.warning("%s: the site state (version 2) kept no outage memory: the site's silence counts from now, and a "
                "site_unreachable already sent is sent again if the silence lasts", where)
    return Reachability()


class OutageWatch:
    """``zones``: site -> IANA zone, whose clock the reasons tell the time in (a site left out: UTC)."""

    def __init__(self, after_minutes: float, zones: Mapping[str, str] | None = None) -> None:
        if not after_minutes > 0:
            raise ValueError(f"site_unreachable needs a positive number of minutes, got {after_minutes}")
        self.after_ms = int(after_minutes * 60_000)
        self.zones = dict(zones or {})
        self._clocks: dict[str, SiteClock] = {}

    def _clock(self, site: str, time_s: float) -> str:
        clock = self._clocks.get(site)
        if clock is None:
            clock = self._clocks[site] = SiteClock(self.zones.get(site, "UTC"))
        return clock.clock(int(time_s * 1000))

    def heard(self, site: str, reach: Reachability, now_s: float) -> SentimentAlarm | None:
        """The site sent again: the OK alarm when it had been reported unreachable (once: it is cleared)."""
        since = reach.unreachable_since_s
        if since is None:
            return None
        reach.unreachable_since_s = None
        minutes = (now_s - since) / 60
        return _alarm(site, "OK", now_s, minutes, self.after_ms / 60_000,
                      alarm_words.site_back(alarm_words.place(site, None), minutes))

    def check(self, reach: Mapping[str, Reachability], now_s: float) -> list[SentimentAlarm]:
        """The sites silent for ``after_minutes`` that are not yet reported (site name order); a site
        whose last input is not known counts from ``now_s``."""
        raised = []
        for site in sorted(reach):
            state = reach[site]
            last = state.last_input(now_s)
            if state.unreachable_since_s is not None or (now_s - last) * 1000 < self.after_ms:
                continue
            state.unreachable_since_s = last
            minutes = (now_s - last) / 60
            raised.append(_alarm(site, "ALARM", now_s, minutes, self.after_ms / 60_000,
                                 alarm_words.site_unreachable(alarm_words.place(site, None), minutes,
                                                              self._clock(site, last))))
        return raised


def _alarm(site: str, state: Literal["ALARM", "OK"], now_s: float, minutes: float, threshold: float,
           reason: str) -> SentimentAlarm:
    time_ms = int(now_s * 1000)
    return {"schema": "sentiment_alarm", "schema_version": "1.0",
            "event_id": stable_event_id(time_ms, "sentiment_alarm", RULE, state, site, ""),
            "site_id": site, "event_time_ms": time_ms, "camera_id": None, "rule": RULE, "state": state,
            "value": round(minutes, 2), "threshold": threshold, "reason": reason}
