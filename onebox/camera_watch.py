"""Every configured camera is watched from the moment the box starts: one that does not work is an alarm.

The stream's own ``camera_silent`` works in event time, which only moves while the site sends: a
camera that never starts (a missing file, a wrong device index), or the only camera of a site, would
never be judged. So the box, which knows the site file's cameras, their edges' exits and the wall
clock, raises ``camera_silent`` for a configured camera when

- it has sent no heartbeat for ``silent_minutes`` since the box started or since its last heartbeat;
- or its edge gave up for good (a configuration error: exit 2, not restarted), at once.

The alarm carries what the edge said (``cannot open source ...``, the exit code), so the camera card,
``alarms`` and the message to the manager say why. The next heartbeat clears it. The alarms go to
``run/camera-alarms.jsonl`` (the box's file: the stream runner owns ``alarms.jsonl``). Pure logic:
times are passed in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from schemas.types import SentimentAlarm
from stream.ids import stable_event_id

CAMERA_ALARMS = "camera-alarms.jsonl"
RULE: Final = "camera_silent"


@dataclass(frozen=True)
class EdgeReport:
    """What the box knows about a camera's edge process right now."""

    state: str  # the supervisor's: running, backoff, failed, ...
    exit_code: int | None = None
    reason: str | None = None  # the edge's last error line


@dataclass
class CameraWatch:
    site: str
    cameras: Mapping[str, str]  # id -> name people know it by
    silent_minutes: float
    started_ms: int
    last_beat: dict[str, int] = field(default_factory=dict)
    down: dict[str, int] = field(default_factory=dict)  # camera -> when its alarm was raised

    def restore(self, path: Path) -> None:
        """The raises still standing in the box's file from its previous run: not raised again, and
        cleared (so the people told of them are told it is over) by the camera's next heartbeat."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        last: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                alarm = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash: the next check writes what is true now
            if alarm.get("site_id") == self.site and alarm.get("camera_id") in self.cameras:
                last[alarm["camera_id"]] = alarm
        for camera, alarm in last.items():
            time_ms = alarm.get("event_time_ms")
            if alarm.get("state") == "ALARM" and isinstance(time_ms, int):
                self.down[camera] = time_ms

    def beat(self, camera: str, time_ms: int) -> None:
        """A heartbeat from ``camera`` (its event time: the edge's wall clock)."""
        if camera in self.cameras:
            self.last_beat[camera] = max(time_ms, self.last_beat.get(camera, time_ms))

    def check(self, now_ms: int, edges: Mapping[str, EdgeReport]) -> list[SentimentAlarm]:
        """Raises and clears, cameras in site file order."""
        out: list[SentimentAlarm] = []
        limit = int(self.silent_minutes * 60_000)
        for camera, name in self.cameras.items():
            beat = self.last_beat.get(camera)
            edge = edges.get(camera)
            raised = self.down.get(camera)
            if raised is not None:
                if beat is not None and beat > raised:
                    del self.down[camera]
                    out.append(self._alarm(camera, "OK", now_ms, None, f"camera {name} sends heartbeats again"))
                continue
            since = max(self.started_ms, beat) if beat is not None else self.started_ms
            if edge is not None and edge.state == "exited":  # a recorded source played to its end
                continue
            gave_up = edge is not None and edge.state == "failed"
            if now_ms - since <= limit and not gave_up:
                continue
            self.down[camera] = now_ms
            minutes = (now_ms - since) / 60_000
            what = ("has sent nothing since the box started" if beat is None
                    else f"has sent no heartbeat for {minutes:.1f} minutes")
            out.append(self._alarm(camera, "ALARM", now_ms, round(minutes, 2),
                                   f"camera {name} is not working: it {what}{_edge_words(edge)}"))
        return out

    def _alarm(self, camera: str, state: Literal["ALARM", "OK"], now_ms: int, minutes: float | None,
               reason: str) -> SentimentAlarm:
        return {"schema": "sentiment_alarm", "schema_version": "1.0",
                "event_id": stable_event_id(now_ms, "sentiment_alarm", RULE, state, self.site, camera, "box"),
                "site_id": self.site, "event_time_ms": now_ms, "camera_id": camera, "rule": RULE, "state": state,
                "value": minutes, "threshold": float(self.silent_minutes), "reason": reason[:1000]}


def _edge_words(edge: EdgeReport | None) -> str:
    if edge is None:
        return ""
    said = f": {edge.reason}" if edge.reason else ""
    if edge.state == "failed":
        return f"; its edge stopped (exit {edge.exit_code}) and is not restarted: fix the site file{said}"
    if edge.state == "backoff":
        return f"; its edge keeps failing (exit {edge.exit_code}) and is being restarted{said}"
    return f"; its edge runs but delivers nothing{said}"


def append(path: Path, alarms: list[SentimentAlarm]) -> None:
    """One line per alarm, flushed and synced: the dashboard and the alerts read it as it grows."""
    if not alarms:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for alarm in alarms:
            handle.write(json.dumps(alarm, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
