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

The alarms carry wall-clock times and are not replayed byte for byte (like the idle advance); they
are not part of a site's saved state, so a host restarted during an outage raises it again once the
silence has lasted ``after_minutes`` of its own clock.
"""

from __future__ import annotations

from typing import Final, Literal

from schemas.types import SentimentAlarm
from stream.ids import stable_event_id

RULE: Final = "site_unreachable"


class OutageWatch:
    def __init__(self, after_minutes: float) -> None:
        if not after_minutes > 0:
            raise ValueError(f"site_unreachable needs a positive number of minutes, got {after_minutes}")
        self.after_ms = int(after_minutes * 60_000)
        self.unreachable: dict[str, float] = {}  # site -> wall clock (s) of its last event when raised

    def heard(self, site: str, now_s: float) -> SentimentAlarm | None:
        """The site sent again: the OK alarm when it had been reported unreachable."""
        if site not in self.unreachable:
            return None
        since = self.unreachable.pop(site)
        minutes = (now_s - since) / 60
        return _alarm(site, "OK", now_s, minutes, self.after_ms / 60_000,
                      f"site {site} sends again after {minutes:.1f} minutes without events; what its edges "
                      "spooled meanwhile goes into its windows")

    def check(self, last_input: dict[str, float], now_s: float) -> list[SentimentAlarm]:
        """The sites silent for ``after_minutes`` that are not yet reported (site name order)."""
        raised = []
        for site in sorted(last_input):
            last = last_input[site]
            if site in self.unreachable or (now_s - last) * 1000 < self.after_ms:
                continue
            self.unreachable[site] = last
            minutes = (now_s - last) / 60
            raised.append(_alarm(site, "ALARM", now_s, minutes, self.after_ms / 60_000,
                                 f"no event from site {site} for {minutes:.1f} minutes (its uplink, edge box or "
                                 "cameras are down); its windows wait for its spooled events"))
        return raised


def _alarm(site: str, state: Literal["ALARM", "OK"], now_s: float, minutes: float, threshold: float,
           reason: str) -> SentimentAlarm:
    time_ms = int(now_s * 1000)
    return {"schema": "sentiment_alarm", "schema_version": "1.0",
            "event_id": stable_event_id(time_ms, "sentiment_alarm", RULE, state, site, ""),
            "site_id": site, "event_time_ms": time_ms, "camera_id": None, "rule": RULE, "state": state,
            "value": round(minutes, 2), "threshold": threshold, "reason": reason}
