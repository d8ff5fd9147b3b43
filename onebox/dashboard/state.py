"""What the dashboard shows, folded from the stream runner's outputs as they grow.

Reads only files the box already writes: `windows.jsonl` and `alarms.jsonl` (stream runner),
heartbeats from the event log (edges), `run/status.json` (supervisor) and the reports folder. Memory
stays bounded however long the box runs: the latest window per camera and length, today's curve, a
mean per hour of the week for the baseline, and the last alarms.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from onebox.camera_watch import CAMERA_ALARMS
from onebox.dashboard.box_status import freshness
from onebox.eventlog import Skipped, parse_or_skip
from stream.alarm_words import named
from stream.alarms import baseline_levels, baseline_zone, hour_of_week
from stream.embedded import ALARMS, WINDOWS
from stream.host.sites import StateError
from stream.jsonl import complete_lines
from stream.published import hidden_for_another, saved_min_tracks
from stream.settings import BY_KEY
from stream.state.local import read_state
from stream.window_evidence import SiteClock

CURVE_MINUTES = 15
START_TAIL_BYTES = 32 * 1024 * 1024  # at start, read this much of each output's end: today and its alarms
CHUNK_BYTES = 8 * 1024 * 1024  # at most this much per poll, so memory stays bounded on a busy box
BASELINE_EVERY_S = 30.0
REPORT_SUFFIXES = (".html", ".pdf")  # the report itself; its CSVs and charts sit beside it
ForecastHook = Callable[[], list[list[float]] | None]


def marked(latest: Mapping[str, Mapping[int, dict[str, Any]]], min_tracks: int | None
           ) -> dict[str, dict[int, dict[str, Any]]]:
    """The latest windows (camera id, "" for the site -> minutes -> window), each camera window the stream
    hid for another camera's sake (`stream.published`: insufficient, yet ``min_tracks`` customers or more)
    marked ``hidden``, so the page says why. The stream hides them before it writes them: the page
    shows what it reads. ``min_tracks`` None (no state saved yet): none marked."""
    def hidden(key: str, window: Mapping[str, Any]) -> bool:
        return hidden_for_another(key, window["insufficient"], window["tracks"], min_tracks)

    return {key: {minutes: {**w, "hidden": True} if hidden(key, w) else dict(w) for minutes, w in slots.items()}
            for key, slots in latest.items()}


def _short(window: Mapping[str, Any]) -> dict[str, Any]:
    ci = window.get("net_score_ci") or {}
    return {"end_ms": window["window_end_ms"], "minutes": window["window_minutes"], "tracks": window["tracks"],
            "insufficient": window["insufficient_data"], "net": window.get("net_score"),
            "low": ci.get("low"), "high": ci.get("high")}


@dataclass
class DashboardState:
    stream_dir: Path
    status_file: Path | None = None
    reports_dir: Path | None = None
    heartbeats: Any = None  # an object with read() -> list[event dict] (onebox.eventlog.LogTail)
    forecast: ForecastHook | None = None  # the lake's forecast for today, [[time_ms, net], ...]
    drift: Callable[[], dict[str, Any] | None] | None = None  # camera -> {day, psi, verdict} (model drift)
    today: Callable[[], dt.date] | None = None  # default: the date now in the site's time zone
    timezone: str | None = None  # the site file's [site] timezone; None: the box's status says it, else UTC
    site: str | None = None
    wall_ms: Callable[[], int] = field(default_factory=lambda: lambda: int(time.time() * 1000))  # the box's clock
    latest: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)  # camera|"" -> minutes -> window
    curve: list[list[Any]] = field(default_factory=list)
    curve_day: dt.date | None = None
    baseline: dict[int, float] = field(default_factory=dict)  # local hour of the week -> mean net score
    baseline_clock: SiteClock = field(default_factory=SiteClock)  # the zone of those hours (the state's)
    min_tracks: int | None = None  # the stream's, read from its state with the baseline
    _baseline_read: float = -1e18
    alarms: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))
    open_alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    skipped: Skipped = field(default_factory=Skipped)  # output lines the event contract refused
    _zone_cache: ZoneInfo | None = None

    def zone_name(self) -> str:
        """The site's IANA zone: "today" starts at its midnight and the page's times are its clock's."""
        return self.timezone or str(self._status().get("timezone") or "UTC")

    def _zone(self) -> ZoneInfo:
        if self._zone_cache is None:  # read again on each poll (the status file may be rewritten)
            self._zone_cache = ZoneInfo(self.zone_name())
        return self._zone_cache

    def _today(self) -> dt.date:
        return self.today() if self.today is not None else dt.datetime.now(self._zone()).date()

    def _day_bounds(self) -> tuple[int, int]:
        """Today's local midnight and the next, as instants (23 or 25 hours apart on a clock change)."""
        zone, day = self._zone(), self._today()
        start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)

    def poll(self) -> bool:
        """Reads what is new; returns whether anything changed."""
        changed = False
        self._zone_cache = None  # the box's status may name another zone after a restart
        sources = [(self.stream_dir / WINDOWS, self._window), (self.stream_dir / ALARMS, self._alarm)]
        if self.status_file is not None:  # the box's own camera alarms (onebox.camera_watch)
            sources.append((self.status_file.parent / CAMERA_ALARMS, self._alarm))
        for path, fold in sources:
            name = path.name
            documents, self.offsets[name] = _read_new(path, self.offsets.get(name), self.skipped)
            for document in documents:
                fold(document)
            changed |= bool(documents)
        if self.heartbeats is not None:
            for event in self.heartbeats.read():
                if event.get("schema") == "camera_heartbeat":
                    self._heartbeat(event)
                    changed = True
        # read at every poll until the stream has saved a state: its min_tracks tells which windows it hid
        if self.min_tracks is None or time.monotonic() - self._baseline_read >= BASELINE_EVERY_S:
            self._baseline_read = time.monotonic()
            changed |= self._read_baseline()
        return changed

    def _read_baseline(self) -> bool:
        """The alarm engine's own baseline (the usual net score per local hour of the week), and the
        stream's min_tracks, read from the stream runner's checkpoint through the stream's readers,
        without its writer's lock."""
        try:
            _, sites = read_state(self.stream_dir)
        except StateError:
            return False
        baseline = {}
        min_tracks = self.min_tracks
        for site, document in sites.items():
            alarms = document.get("alarms") if isinstance(document, dict) else None
            if (self.site is not None and site != self.site) or not isinstance(alarms, dict):
                continue
            self.min_tracks = saved_min_tracks(document)
            for how, reference in baseline_levels(alarms, site).items():
                baseline[how] = reference.net
            if baseline_zone(alarms, site) != self.baseline_clock.zone:
                self.baseline_clock = SiteClock(baseline_zone(alarms, site))
        changed = baseline != self.baseline or min_tracks != self.min_tracks
        self.baseline = baseline
        return changed

    def _window(self, window: Mapping[str, Any]) -> None:
        self.site = window["site_id"]
        key = window["camera_id"] or ""
        slot = self.latest.setdefault(key, {})
        minutes = window["window_minutes"]
        if minutes not in slot or slot[minutes]["end_ms"] <= window["window_end_ms"]:
            slot[minutes] = _short(window)
        if key or minutes != CURVE_MINUTES:
            return
        # a window ending at local midnight belongs to the day it closes
        end = dt.datetime.fromtimestamp((window["window_end_ms"] - 1) / 1000, self._zone()).date()
        today = self._today()
        if self.curve_day != today:
            self.curve, self.curve_day = [], today
        if end == today:
            short = _short(window)
            self.curve.append([short["end_ms"], short["net"], short["low"], short["high"]])
            del self.curve[:-24 * 60]  # one point a minute at most

    def _alarm(self, alarm: Mapping[str, Any]) -> None:
        self.site = alarm["site_id"]
        short = {"time_ms": alarm["event_time_ms"], "rule": alarm["rule"], "state": alarm["state"],
                 "camera": alarm["camera_id"], "value": alarm["value"], "reason": alarm["reason"],
                 "threshold": alarm.get("threshold")}
        self.alarms.appendleft(short)
        key = f"{alarm['rule']}/{alarm['camera_id'] or ''}"
        if alarm["state"] == "ALARM":
            self.open_alarms[key] = short
        else:
            self.open_alarms.pop(key, None)

    def _heartbeat(self, event: Mapping[str, Any]) -> None:
        self.site = self.site or event["site_id"]
        self.health[event["camera_id"]] = {
            "time_ms": event["event_time_ms"], "fps": event["fps"], "spool_depth": event["spool_depth"],
            "dropped": event["dropped_count"], "model_version": event["model_version"],
            "open_tracks": event["open_tracks"], "uptime_s": event["uptime_s"]}

    def _baseline_today(self) -> list[list[Any]]:
        start_ms, end_ms = self._day_bounds()
        points = []
        for ms in range(start_ms, end_ms, 3_600_000):  # the local day's 23, 24 or 25 hours
            mean = self.baseline.get(hour_of_week(self.baseline_clock.local_ms(ms)))
            if mean is not None:
                points.append([ms, mean, ms + 3_600_000])
        return points

    def _status(self) -> dict[str, Any]:
        if self.status_file is None:
            return {}
        try:
            status: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return status

    def reports(self) -> list[dict[str, Any]]:
        if self.reports_dir is None or not self.reports_dir.is_dir():
            return []
        files = [p for p in self.reports_dir.iterdir() if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES]
        files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [{"name": p.name, "modified_ms": int(p.stat().st_mtime * 1000)} for p in files[:5]]

    def snapshot(self) -> dict[str, Any]:
        status = self._status()
        latest = marked(self.latest, self.min_tracks)
        names = {c["id"]: c.get("name") or c["id"] for c in status.get("cameras", [])}
        site_id = status.get("site") or self.site or ""

        def told(alarm: dict[str, Any]) -> dict[str, Any]:
            """The alarm's reason with the site's and its camera's names in place of their ids."""
            camera = alarm["camera"]
            return {**alarm, "reason": named(alarm["reason"], site_id, camera, status.get("site_name") or "",
                                             names.get(camera, "") if camera else "")}

        open_alarms = {key: told(alarm) for key, alarm in self.open_alarms.items()}
        ids = sorted({k for k in self.latest if k} | set(self.health) | set(names))
        drift = (self.drift() if self.drift else None) or {}
        children = {c.get("name"): c for c in status.get("children", [])}
        cameras = [{"id": cid, "name": names.get(cid, cid), "windows": latest.get(cid, {}),
                    "tracks_now": self.health.get(cid, {}).get("open_tracks"), "health": self.health.get(cid),
                    "drift": drift.get(cid), "down": open_alarms.get(f"camera_silent/{cid}"),
                    "edge": _edge(children.get(f"edge-{cid}"))}
                   for cid in ids]
        tracks = [c["tracks_now"] for c in cameras if c["tracks_now"] is not None]
        return {
            "site": {"id": site_id or None, "name": status.get("site_name"),
                     "windows": latest.get("", {}),
                     "tracks_now": sum(tracks) if tracks else None,
                     "waiting": open_alarms.get("site_unreachable/")},
            "camera_names": names,
            "cameras": cameras,
            "timezone": self.zone_name(),
            # a window closes this long after its end (the box's status says the site's setting)
            "lateness_s": status.get("lateness_s", BY_KEY["lateness_s"].default),
            "day": dict(zip(("start_ms", "end_ms"), self._day_bounds(), strict=True)),
            "curve": self.curve if self.curve_day == self._today() else [],
            "baseline": self._baseline_today(),
            "forecast": self.forecast() if self.forecast else None,
            "open_alarms": sorted(open_alarms.values(), key=lambda a: -a["time_ms"]),
            "alarms": [told(alarm) for alarm in self.alarms],
            "children": status.get("children", []),
            "box": freshness(status, self.wall_ms()),  # None: no box says how current its status is
            "disk": status.get("disk"),
            "jobs": status.get("jobs", []),  # when retention, crop expiry, compaction... last ran
            "reports": self.reports(),
            "skipped": self.skipped.count + getattr(self.heartbeats, "skipped", Skipped()).count,
        }


def _edge(child: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the camera card says about the camera's edge process (the supervisor's view)."""
    if child is None:
        return None
    return {"state": child.get("state"), "last_exit": child.get("last_exit"), "reason": child.get("reason"),
            "restarts": child.get("restarts")}


def _read_new(path: Path, offset: int | None, skipped: Skipped) -> tuple[list[Mapping[str, Any]], int]:
    """Complete lines after byte `offset` (None: near the end of the file), at most CHUNK_BYTES of them."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], 0
    with path.open("rb") as handle:
        if offset is not None and offset > size:  # the runner truncated an uncommitted tail: it rewrites it
            offset = size
        elif offset is None:  # first read: the recent end only (today's curve, the last alarms)
            offset = max(0, size - START_TAIL_BYTES)
            if offset:
                handle.seek(offset - 1)
                partial = handle.readline()  # finish the line the cut fell in
                offset += len(partial) - 1
    data, end = complete_lines(path, offset, CHUNK_BYTES)
    documents = []
    at = offset
    for line in data.splitlines(keepends=True):
        where, at = f"{path}: line at byte {at}", at + len(line)
        document = parse_or_skip(line.rstrip(b"\n"), where, skipped) if line.strip() else None
        if document is not None:
            documents.append(document)
    return documents, end
