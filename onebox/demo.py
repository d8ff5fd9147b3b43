"""`moodlens demo`: recorded clips as the cameras of one site, run by `moodlens up`'s own machinery.

The same `Box` (supervisor, one `moodlens edge run` process per camera, the stream runner, the
dashboard) as `moodlens up`; only the end differs: recorded clips run out, so once every edge has
exited the box stops (spools drained, the runner checkpointed) and event time is moved on to the end
of the last minute with data, closing the windows that hold the clips and nothing after them (no
hour of empty windows, no camera_silent alarms caused by the end of the input).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404: the demo runs our own CLI, argument lists, no shell
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from onebox.box import Box
from onebox.children import CLI, edge_spec, stream_spec
from onebox.config import SiteConfig, from_values
from onebox.eventlog import LogTail, Skipped, events, open_log
from onebox.lakesites import lake_exists, publish_sites
from onebox.layout import Layout
from onebox.processes import RealClock, SubprocessSpawner
from stream.embedded import ALARMS, WINDOWS
from stream.jsonl import iter_jsonl

if TYPE_CHECKING:
    from stream.host.loop import HostConfig

SITE = "demo-cafe"
# Beside the clips' site, a synthetic history of two more sites ending now: four weeks are enough for
# the report's forecast, heatmap and week-on-week numbers (`moodlens demo history`).
HISTORY_DAYS = 28
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")


@dataclass(frozen=True)
class Clip:
    camera_id: str
    path: Path
    duration_ms: int


def find_clips(folder: Path) -> list[Clip]:
    import cv2

    if not folder.is_dir():
        raise FileNotFoundError(f"no clip folder at {folder}")
    clips: list[Clip] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
        capture = cv2.VideoCapture(str(path))
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS) or 25.0
        capture.release()
        if frames <= 0:
            print(f"skipping {path.name}: OpenCV cannot read it as a video", file=sys.stderr)
            continue
        clips.append(Clip(f"cam-{len(clips) + 1}", path, int(frames * 1000 / fps)))
    if not clips:
        raise FileNotFoundError(f"no readable video clip ({', '.join(VIDEO_SUFFIXES)}) in {folder}")
    return clips


def site_config(clips: list[Clip], state: Path, min_tracks: int, port: int) -> SiteConfig:
    cameras = [{"id": c.camera_id, "source": str(c.path.resolve()), "name": c.path.name} for c in clips]
    return from_values({"site": {"id": SITE, "state_dir": str(state.resolve())},
                        "thresholds": {"min_tracks": min_tracks},
                        "lake": {"compact_every_minutes": 0}, "dashboard": {"port": port or 8765}}, cameras)


class Progress:
    """One bar per camera, from the heartbeats in the event log (source time seen / clip length)."""

    def __init__(self, clips: list[Clip], log_dir: Path, out: IO[str]) -> None:
        self.clips, self.out = clips, out
        self.tail = LogTail(log_dir, backlog=0)
        self.first: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.tty = out.isatty()
        self._drawn = False
        self._last_plain = -1.0

    def update(self, finished: Callable[[str], bool]) -> None:
        for event in self.tail.read():
            if event.get("schema") == "camera_heartbeat":
                camera, t = event["camera_id"], event["event_time_ms"]
                self.first.setdefault(camera, t)
                self.seen[camera] = max(self.seen.get(camera, t), t)
        rows = []
        for clip in self.clips:
            done = finished(clip.camera_id)
            share = 1.0 if done else min(0.99, (self.seen.get(clip.camera_id, 0) - self.first.get(
                clip.camera_id, 0)) / max(1, clip.duration_ms))
            bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
            rows.append(f"  {clip.camera_id:<7} {clip.path.name[:28]:<28} {bar} {share * 100:3.0f}%"
                        f"{'  done' if done else ''}")
        if self.tty:
            if self._drawn:
                self.out.write(f"\x1b[{len(rows)}F")
            self.out.write("\n".join(r + "\x1b[K" for r in rows) + "\n")
            self._drawn = True
        else:  # a log file or a pipe: a full picture every 5 s and at the end
            now = time.monotonic()
            if now - self._last_plain >= 5 or all(finished(c.camera_id) for c in self.clips):
                self._last_plain = now
                self.out.write("\n".join(rows) + "\n")
        self.out.flush()


@dataclass
class DemoResult:
    state: Path
    clips: list[Clip]
    events: int = 0
    visits: int = 0
    skipped: int = 0  # log records the event contract refused
    windows: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    report: str = ""
    history: str = ""
    lake_summary: str = ""
    site_files: list[Path] = field(default_factory=list)  # where `moodlens sql|report` find the demo's lake


def run_demo(clips: list[Clip], state: Path, min_tracks: int, blur_faces: bool, port: int = 8765,
             out: IO[str] | None = None, dashboard: Any = None,
             history_days: int = HISTORY_DAYS) -> DemoResult:
    """Runs the clips through the box; `dashboard` (a started server) may watch it live. Progress goes
    to `out`, by default the `sys.stderr` of the moment of the call (not of the import: a test's
    output capture, or a caller that redirected it, may have closed that one since)."""
    out = out if out is not None else sys.stderr
    config = site_config(clips, state, min_tracks, port)
    layout = Layout(config.state_dir)
    specs = []
    for index, (clip, camera) in enumerate(zip(clips, config.cameras, strict=True)):
        extra = ["--heartbeat-interval", "1"]
        if index == 0:  # the annotated video: boxes, track ids, expression bars (a local file)
            extra += ["--annotate", str(layout.root / f"annotated_{_safe(clip.path.stem)}.mp4")]
            extra += ["--blur-faces"] if blur_faces else []
        specs.append(edge_spec(config, camera, layout, "on-failure", extra))
    # recorded clips end: their silence afterwards is not an outage
    specs.append(stream_spec(config, layout, ["--idle-advance-s", "0", "--unreachable-minutes", "0",
                                              "--poll-s", "0.2"]))
    box = Box(config, SubprocessSpawner(), RealClock(), specs=specs, jobs_enabled=False)
    progress = Progress(clips, layout.log, out)
    edges = [s.name for s in specs if s.kind == "edge"]

    def finished(camera: str) -> bool:
        return box.supervisor.status[f"edge-{camera}"].state in ("exited", "failed")

    def edges_done() -> bool:
        progress.update(finished)
        return all(box.supervisor.status[n].state in ("exited", "failed") for n in edges)

    box.run(threading.Event(), poll_s=0.25, until=edges_done)
    result = DemoResult(layout.root, clips, failed=[n for n in edges if box.supervisor.status[n].state == "failed"])
    close_at_end_of_input(layout, config)
    _collect(result, layout)
    result.history = compact(["--log", str(layout.log), "--state", str(layout.stream)], box.config.lake_dir)
    if not result.history and history_days > 0:
        result.history = add_history(layout, box.config.lake_dir, history_days, out)
    if lake_exists(box.config):
        publish_sites(box.config)  # before the report: its job reads the site's zone from the lake
    result.report = make_report(box)
    result.site_files = write_site_files(box.config, Path.cwd())
    result.lake_summary = lake_summary(result.site_files[0])
    return result


def site_file_text(config: SiteConfig) -> str:
    """The demo's site as a site file: `moodlens sql`, `report` and `batch forecast` read its lake."""
    def quoted(value: Any) -> str:
        return json.dumps(str(value))  # a TOML basic string is a JSON string for these characters

    lines = ["# The demo's site (`moodlens demo` writes this file; `moodlens sql`, `report` and `batch forecast`",
             "# read the lake, min_tracks and the time zone from it).", "[site]",
             f"id = {quoted(config.site_id)}", f"state_dir = {quoted(config.state_dir)}",
             f"timezone = {quoted(config.get('site', 'timezone'))}", "", "[thresholds]",
             f"min_tracks = {int(config.get('thresholds', 'min_tracks'))}", "", "[lake]",
             f"path = {quoted(config.lake_dir)}", "compact_every_minutes = 0", ""]
    for camera in config.cameras:
        lines += ["[[cameras]]", f"id = {quoted(camera.id)}", f"source = {quoted(camera.source)}",
                  f"name = {quoted(camera.name)}", ""]
    return "\n".join(lines)


def write_site_files(config: SiteConfig, working: Path) -> list[Path]:
    """The demo's site file in its state folder, and in the working folder when that has none and
    the state lies under it (`make demo`): the analyst's commands then find the lake by themselves.
    A site file already there is never replaced."""
    text = site_file_text(config)
    written = [config.state_dir / "moodlens.toml"]
    written[0].write_text(text, encoding="utf-8")
    here = working / "moodlens.toml"
    if not here.exists() and config.state_dir.resolve().is_relative_to(working.resolve()):
        here.write_text(text, encoding="utf-8")
        written.append(here)
    return written


def _moodlens(*argv: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=timeout_s,  # nosec B603: our CLI
                          check=False)


def compact(source: list[str], lake: Path) -> str:
    """`moodlens batch compact` into the demo's lake; "" when it worked, else what went wrong."""
    done = _moodlens("batch", "compact", *source, "--lake", str(lake))
    return "" if done.returncode == 0 else f"compaction failed: {(done.stderr or done.stdout).strip()[-300:]}"


def add_history(layout: Layout, lake: Path, days: int, out: IO[str]) -> str:
    """Two more sites' last weeks (synthetic), through the stream and into the demo's lake."""
    history = layout.root / "history"
    steps = [("history", ["demo", "history", "--sites", "2", "--days", str(days), "--seed", "1", "--end", "today",
                          "--out", str(history)]),
             ("windows and alarms", ["stream", "run", "--log", str(history / "log"), "--state",
                                     str(history / "stream"), "--once", "--flush", "--no-time-check"]),
             ("lake", ["batch", "compact", "--log", str(history / "log"), "--state", str(history / "stream"),
                       "--lake", str(lake)])]
    for name, argv in steps:
        out.write(f"  synthetic history: {name}...\n")
        out.flush()
        done = _moodlens(*argv)
        if done.returncode != 0:
            return f"synthetic history failed at {name}: {(done.stderr or done.stdout).strip()[-300:]}"
    return f"synthetic history of 2 more sites over {days} days, in the lake at {lake}"


LAKE_SUMMARY_SQL = """
SELECT site_id AS site, count(*) AS hours, sum(tracks) AS visits,
       round(avg(net_score), 2) AS net_score, sum(CASE WHEN suppressed THEN 1 ELSE 0 END) AS hours_too_few
FROM sentiment_by_hour_site
WHERE hour >= current_date - INTERVAL 7 DAY
GROUP BY site_id ORDER BY site_id
"""


def lake_summary(site_file: Path) -> str:
    """The last seven days per site, from the lake's `sentiment_by_hour_site` view, read through the
    demo's site file (its lake, and its min_tracks: the fewest customers behind a shown hour)."""
    done = _moodlens("sql", "--config", str(site_file), LAKE_SUMMARY_SQL)
    if done.returncode != 0:
        return f"(no summary from the lake: {(done.stderr or done.stdout).strip()[-300:]})"
    return done.stdout.rstrip()


def final_drain_config(config: SiteConfig) -> HostConfig:
    """The final drain judges with the site's window and alarm settings and zone, as the stream child did."""
    from stream import settings
    from stream.embedded import RunnerConfig

    engine, alarms = settings.configs(config.values["thresholds"], str(config.path or "the site file"))
    return RunnerConfig(engine=engine, alarms=alarms, site_zones={config.site_id: config.get("site", "timezone")})


def close_at_end_of_input(layout: Layout, config: SiteConfig) -> None:
    """Reads what is left in the log, then moves event time to the end of the last minute with data."""
    from stream.embedded import EmbeddedRunner

    runner = EmbeddedRunner(open_log(layout.log), layout.stream, final_drain_config(config),
                            source=f"locallog:{layout.log}")
    try:
        runner.drain()
        runner.close_to_last_data()
    finally:
        runner.close()


def make_report(box: Box) -> str:
    """The weekly report over the demo's data: the box's jobs run once each through the supervisor, in
    the box's order (a compaction, where the site has one, before the report)."""
    from onebox.children import job_spec

    reports = box.config.reports_dir
    for job in box.jobs:
        box.supervisor.stopping = False
        box.supervisor.run_job(job_spec(job.name, job.template, box.config, box.layout))
        deadline = time.monotonic() + 60
        while box.supervisor.running(job.name) and time.monotonic() < deadline:
            time.sleep(0.1)
            box.supervisor.tick()
    made = sorted(reports.glob("*.html"), key=lambda p: p.stat().st_mtime) if reports.is_dir() else []
    if made:
        return str(made[-1])
    return f"`moodlens report` wrote nothing (see {box.layout.logs / 'moodlens.log'})"


def _collect(result: DemoResult, layout: Layout) -> None:
    skipped = Skipped()
    for event in events(layout.log, skipped):
        result.events += 1
        result.visits += event.get("kind") == "track_end"
    result.skipped = skipped.count
    result.windows = list(iter_jsonl(layout.stream / WINDOWS))
    result.alarms = list(iter_jsonl(layout.stream / ALARMS))


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)


def reset(state: Path) -> None:
    """The demo starts from nothing each run (call with the state folder's lock held; the lock stays).

    Refuses to wipe a folder that is not a demo's."""
    entries = [p for p in state.iterdir() if p.name != "moodlens.lock"] if state.exists() else []
    if entries and not (state / "run" / "status.json").exists() and not (state / "log").is_dir():
        raise ValueError(f"{state} is not empty and not a demo's state folder; choose another --state")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def summary(result: DemoResult) -> str:
    windows = result.windows
    with_customers = [w for w in windows if w["tracks"]]
    raised = sum(a["state"] == "ALARM" for a in result.alarms)
    cleared = sum(a["state"] == "OK" for a in result.alarms)
    site = [w for w in windows if w["camera_id"] is None]
    longest = max((w["window_minutes"] for w in site), default=0)
    final = max((w for w in site if w["window_minutes"] == longest), key=lambda w: w["window_end_ms"], default=None)
    if final is None:
        score = "no window closed"
    elif final["insufficient_data"]:
        score = f"too few customers ({final['tracks']} seen)"
    else:
        ci = final["net_score_ci"]
        score = (f"{final['net_score']:+.2f} (95% interval {ci['low']:+.2f} to {ci['high']:+.2f}), "
                 f"{final['tracks']} customers, last {longest} minutes")
    lines = [
        f"site {SITE}: {len(result.clips)} cameras ({', '.join(c.path.name for c in result.clips)})",
        f"visits (customers tracked): {result.visits}; events in the log: {result.events}",
        f"windows: {len(windows)} ({len(with_customers)} with customers), per camera and for the site, "
        "5/15/60 minutes",
        f"alarms: {raised} raised, {cleared} cleared",
        f"the site's net score: {score}",
    ]
    if result.skipped:
        lines.append(f"log records skipped, they break the event contract: {result.skipped} (see "
                     f"{result.state}/logs/moodlens.log)")
    if result.site_files:
        where = result.site_files[-1]
        hint = "" if where.parent == Path.cwd() else f"; add --config {where}"
        commands = '`moodlens sql --tables`, `moodlens sql "SELECT * FROM visits"` and `moodlens report`'
        lines.append(f"site file: {where} ({commands} read its lake{hint})")
    if result.failed:
        lines.append(f"cameras that failed: {', '.join(result.failed)} (see {result.state}/logs/moodlens.log)")
    return "\n".join(lines)
