"""`moodlens up`: the site's whole embedded pipeline as one supervised service.

The loop: look at the children (restart what crashed, with backoff), start scheduled jobs that
are due (`onebox.box_jobs`), check the disk budget, and write `run/status.json` for the dashboard. On stop (SIGTERM,
SIGINT) it stops the children in order (edges drain their spools into the log; the stream runner
reads it and checkpoints) and exits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locallog.stream_outputs import DEAD_LETTERS
from onebox import disk_budget, leftovers
from onebox.alerts.wiring import alert_service
from onebox.box_jobs import first_due, run_due_jobs, site_clock, site_jobs, when
from onebox.camera_watch import CAMERA_ALARMS, CameraWatch, EdgeReport, append
from onebox.children import all_specs, job_spec, lake_paths
from onebox.config import SiteConfig
from onebox.eventlog import LogTail, Refused, consumed_offset, describe_refused, trim
from onebox.jobruns import JobRuns
from onebox.lakesites import lake_exists, publish_sites
from onebox.layout import Layout
from onebox.supervisor import Backoff, ChildSpec, ChildStatus, Clock, Spawner, Supervisor

log = logging.getLogger("moodlens.up")
STATUS_EVERY_S = 30.0  # the status file is rewritten at least this often: an older one means the box is stuck


@dataclass
class Box:
    config: SiteConfig
    spawner: Spawner
    clock: Clock
    specs: list[ChildSpec] | None = None  # default: from the site file (the demo passes its own)
    backoff: Backoff = field(default_factory=Backoff)
    # the scheduled jobs' clock; default: the site's own wall clock (its `[site] timezone`), not the machine's
    now: Callable[[], dt.datetime] | None = None
    disk_every_s: float = 30.0
    file_system: Callable[[Path], disk_budget.FileSystem | None] = disk_budget.file_system
    jobs_enabled: bool = True
    cameras_every_s: float = 2.0

    def __post_init__(self) -> None:
        self.layout = Layout(self.config.state_dir)
        self.clock_now = self.now or site_clock(self.config.get("site", "timezone"))
        self.supervisor = Supervisor(self.spawner, self.clock, self.backoff, self._child_event)
        self.jobs = site_jobs(self.config)
        self.runs = JobRuns.load(self.layout.jobs)
        self.disk: disk_budget.Assessment | None = None
        self._last_disk = -1e18
        self.watch = CameraWatch(self.config.site_id, {c.id: c.label for c in self.config.cameras},
                                 float(self.config.get("thresholds", "silent_minutes")), self._now_ms())
        self.watch.restore(self.layout.run / CAMERA_ALARMS)
        self._beats = LogTail(self.layout.log, backlog=0)
        self.refused = Refused(self.layout.stream / DEAD_LETTERS)
        self._last_cameras = -1e18
        self.alerts = alert_service(self.config, self.layout, CAMERA_ALARMS)  # None: no [alerts] urls
        self._last_status = ""
        self._last_status_at = -1e18
        self._status_failing = False
        self._unwritten_alarms: list[Any] = []  # camera alarms a full disk kept out of their file: written next
        self.sites_published = False  # the site's row is in the lake's `sites` table (written once a run)
        self._sites_failed = False  # that write failed: tried again after the next compaction

    # ------------------------------------------------------------------ run

    def start(self) -> None:
        self.layout.make()
        leftovers.stop_leftovers(self.layout.children)
        if self.alerts is not None:
            self.alerts.start()
        for spec in self.specs if self.specs is not None else all_specs(self.config, self.layout):
            self.supervisor.add(spec)
        self.watch.started_ms = self._now_ms()
        now = self.clock_now()
        for job in self.jobs:
            job.due, why = first_due(job, self.runs, now)
            log.info("%s %s", job.name, f"due now: {why}" if job.due <= now else f"scheduled for {when(job.due)}")

    def step(self) -> None:
        self.supervisor.tick()
        if self.jobs_enabled:
            self.publish_site_row()  # before the jobs: a report starting now reads the site's zone
            self._run_due_jobs()
        if self.clock.monotonic() - self._last_disk >= self.disk_every_s:
            self._last_disk = self.clock.monotonic()
            self.check_disk()
            self.check_refused()
        if self.clock.monotonic() - self._last_cameras >= self.cameras_every_s:
            self._last_cameras = self.clock.monotonic()
            self.check_cameras()
        self.write_status()

    def run(self, stop: threading.Event, poll_s: float = 0.25, until: Callable[[], bool] | None = None) -> None:
        self.start()
        try:
            while not stop.is_set() and not (until and until()):
                self.step()
                stop.wait(poll_s)
        finally:
            self.shutdown()

    def shutdown(self, grace_s: float = 20.0) -> None:
        log.info("stopping: edges drain their spools, then the stream runner checkpoints")
        self.supervisor.stop(grace_s)
        self.write_status(force=True)
        if self.alerts is not None:
            self.alerts.poll()  # the alarms the stream wrote while it stopped
            self.alerts.stop()
        log.info("stopped")

    # ------------------------------------------------------------------ jobs

    def _run_due_jobs(self) -> None:
        run_due_jobs(self.jobs, self.clock_now(), self.supervisor,
                     lambda job: job_spec(job.name, job.template, self.config, self.layout))

    def publish_site_row(self) -> None:
        """The site's row into the lake's `sites` table once the lake exists, so that the report job and
        every reader with only the lake get the site's time zone. Never beside a lake-writing job: the
        lake's lock is tried without waiting, and a held lake is tried again on the next step."""
        from batch.lake.lock import LakeBusyError

        if self.sites_published or not lake_exists(self.config) \
                or any(job.writes_lake and self.supervisor.running(job.name) for job in self.jobs):
            return
        self.sites_published = True
        try:
            publish_sites(self.config, wait_s=0)
        except LakeBusyError:
            self.sites_published = False  # the lake's other writer is not one of our jobs: next step
        except Exception as error:  # the box keeps running; the next compaction tries again
            self._sites_failed = True
            log.warning("cannot write the site's row into the lake's sites table at %s: %s (the report reads "
                        "UTC until it is there; tried again after the next compaction)", self.config.lake_dir,
                        error)
        else:
            log.info("the site's row (time zone %s) is in the lake's sites table", self.config.get("site", "timezone"))

    # --------------------------------------------------------------- cameras

    def _now_ms(self) -> int:
        return int(self.clock_now().timestamp() * 1000)

    def _reason(self, name: str) -> str | None:
        reasons: dict[str, str] = getattr(self.spawner, "reasons", {})
        return reasons.get(name)

    def check_cameras(self) -> list[dict[str, Any]]:
        """Heartbeats read, then every configured camera judged (``onebox.camera_watch``)."""
        for event in self._beats.read():
            if event.get("schema") == "camera_heartbeat" and event.get("site_id") == self.config.site_id:
                self.watch.beat(str(event.get("camera_id")), int(event.get("event_time_ms") or 0))
        edges = {}
        for camera in self.config.cameras:
            child = self.supervisor.status.get(f"edge-{camera.id}")
            if child is not None:
                child.reason = self._reason(child.name) if child.state != "running" else None
                edges[camera.id] = EdgeReport(child.state, child.last_exit, child.reason)
        alarms = self.watch.check(self._now_ms(), edges)
        for alarm in alarms:
            level = logging.ERROR if alarm["state"] == "ALARM" else logging.INFO
            log.log(level, "%s", alarm["reason"], extra={"camera": alarm["camera_id"], "rule": alarm["rule"]})
        self._append_alarms(alarms)
        return [dict(a) for a in alarms]

    def _append_alarms(self, alarms: list[Any]) -> None:
        """Into the box's alarm file, which the page and the messages read; a full disk keeps them for the next
        check (in order), so no raise or clear is lost."""
        pending = [*self._unwritten_alarms, *alarms]
        try:
            append(self.layout.run / CAMERA_ALARMS, pending)
        except OSError as error:
            if alarms or not self._unwritten_alarms:
                log.error("cannot write %d camera alarm change(s) to %s: %s; written when it can be",
                          len(pending), self.layout.run / CAMERA_ALARMS, error)
            self._unwritten_alarms = pending
            return
        self._unwritten_alarms = []

    def check_refused(self) -> None:
        """Says what the stream runner refused of the log since the last look (its dead letters): otherwise only
        its last line, at stop, counts them."""
        letters = self.refused.read()
        if letters:
            log.error("the stream runner refused %s; kept in %s (a camera's clock far off, or a bad record: "
                      "these are in no window)", describe_refused(letters), self.refused.path,
                      extra={"refused": len(letters)})

    # ------------------------------------------------------------------ disk

    def check_disk(self) -> disk_budget.Assessment:
        disk = self.config.values["disk"]
        paths = lake_paths(self.config, self.layout)
        budget = int(disk["budget_mb"]) * disk_budget.MIB

        def assess() -> disk_budget.Assessment:
            return disk_budget.assess(disk_budget.usage(paths), budget, disk["warn_percent"],
                                      self.file_system(self.layout.root))

        assessment = assess()
        extra = {"used_mb": round(assessment.used_bytes / disk_budget.MIB, 1), "budget_mb": disk["budget_mb"]}
        if assessment.level == "warn":
            log.warning("%s: past the %d%% warning; at 100%% old rotated logs and event log segments the stream "
                        "has read are deleted", assessment.describe(), disk["warn_percent"], extra=extra)
        elif assessment.level == "over":
            freed = self.free_space()
            log.error("%s: over budget; freed %.1f MiB (rotated logs, event log segments already windowed). "
                      "Raise [disk] budget_mb or move the lake if this repeats", assessment.describe(),
                      freed / disk_budget.MIB, extra=extra)
            assessment = assess()
        elif assessment.level == "full":
            freed = self.free_space()
            log.error("%s at %s: the cameras' spools drop their oldest events and the lake and reports cannot be "
                      "written until space is freed there; freed %.1f MiB of the box's own (rotated logs, event "
                      "log segments already windowed)", assessment.describe(), self.layout.root,
                      freed / disk_budget.MIB, extra=extra)
            assessment = assess()
        if assessment.level in ("ok", "warn") and self.disk is not None and self.disk.level in ("over", "full"):
            log.warning("disk space is back: %s", assessment.describe(), extra=extra)
        self.disk = assessment
        return assessment

    def trimmable_offset(self) -> int | None:
        """Below this offset the event log may go: the stream has windowed it and, when the box
        compacts, the lake holds it too (compaction keeps its own offset beside the lake)."""
        from batch.compact.checkpoint import read_offset

        stream = consumed_offset(self.layout.stream)
        if stream is None or not self.config.values["lake"]["compact_every_minutes"]:
            return stream
        return min(stream, read_offset(self.config.lake_dir, self.layout.log))

    def free_space(self) -> int:
        before = disk_budget.usage(lake_paths(self.config, self.layout))
        for path in disk_budget.rotated_logs(self.layout.logs):
            path.unlink(missing_ok=True)
        offset = self.trimmable_offset()
        if offset is not None and self.layout.log.is_dir():
            trim(self.layout.log, offset)
        return before - disk_budget.usage(lake_paths(self.config, self.layout))

    # ---------------------------------------------------------------- status

    def status(self) -> dict[str, Any]:
        return {"site": self.config.site_id, "site_name": self.config.site_name,
                "timezone": self.config.get("site", "timezone"), "pid": os.getpid(),
                "lateness_s": self.config.get("thresholds", "lateness_s"),  # the page says when a window closes
                "updated_ms": int(time.time() * 1000), "every_s": STATUS_EVERY_S,
                "cameras": [{"id": c.id, "name": c.label} for c in self.config.cameras],
                "children": self.supervisor.snapshot(), "jobs": self.runs.to_json(),
                "disk": self.disk.to_json() if self.disk else None}

    def write_status(self, force: bool = False) -> None:
        status = self.status()
        text = json.dumps({k: v for k, v in status.items() if k != "updated_ms"}, sort_keys=True)
        now = self.clock.monotonic()
        since = now - self._last_status_at
        # at most once a second; at least every STATUS_EVERY_S (the container's health check reads updated_ms)
        if not force and (since < 1.0 or (text == self._last_status and since < STATUS_EVERY_S)):
            return
        self._last_status, self._last_status_at = text, now
        temp = self.layout.status.with_suffix(".tmp")
        try:
            temp.write_text(json.dumps(status), encoding="utf-8")
            os.replace(temp, self.layout.status)
        except OSError as error:  # a full disk: the box and its children go on; the page shows the last status
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            if not self._status_failing:
                log.error("cannot write the status for the dashboard to %s: %s (the page shows the last one written "
                          "until it can)", self.layout.status, error)
            self._status_failing = True
            return
        if self._status_failing:
            log.warning("the status for the dashboard is written again (%s)", self.layout.status)
        self._status_failing = False

    def _record_children(self) -> None:
        running = [(name, child.pid, self.supervisor.specs[name].stop_signal)
                   for name, child in self.supervisor.status.items()
                   if child.pid is not None and self.supervisor.running(name)]
        try:
            leftovers.record(self.layout.children, running)
        except OSError as error:  # a full disk: the children still die with us (parent-death signal)
            log.warning("cannot record the children's pids in %s: %s", self.layout.children, error)

    def _child_event(self, what: str, child: ChildStatus) -> None:
        if what in ("started", "stopped", "exited", "crashed", "failed"):
            self._record_children()
        if child.kind == "job":
            now_ms = int(self.clock_now().timestamp() * 1000)
            if what == "started":
                self.runs.started(child.name, now_ms)
            elif what in ("stopped", "exited", "failed"):
                self.runs.ended(child.name, child.last_exit, now_ms, interrupted=what == "stopped")
                if child.name == "compact" and what == "exited" and self._sites_failed:
                    self.sites_published = self._sites_failed = False
        extra = {"child": child.name, "event": what, "pid": child.pid, "exit": child.last_exit}
        if child.state == "backoff" and child.restart_at is not None:
            delay = round(child.restart_at - self.clock.monotonic(), 1)
            log.log(logging.WARNING if what == "exited" else logging.ERROR, "%s (exit %s); restart %d in %.1f s",
                    what, child.last_exit, child.restarts + 1, delay, extra={**extra, "restart_in_s": delay})
        elif what in ("failed", "killed") or what.startswith("spawn failed"):
            why = self._reason(child.name)
            log.error("%s (exit %s)%s", what, child.last_exit, self._after_failure(child) if what == "failed" else "",
                      extra={**extra, "reason": why} if why else extra)
        else:
            log.info("%s%s", what, f" (pid {child.pid})" if what == "started" else "", extra=extra)
        if child.name == "report" and what == "exited" and self.alerts is not None \
                and self.config.get("alerts", "weekly_report"):
            self._send_report()

    def _after_failure(self, child: ChildStatus) -> str:
        """What comes of a child that failed: an edge's configuration error waits for the site file, a job
        for its next run."""
        if child.last_exit in self.supervisor.specs[child.name].give_up_on:
            return "; not restarted: a configuration error, fix the site file"
        job = next((j for j in self.jobs if j.name == child.name), None)
        return f"; next run {when(job.due)}" if job is not None and job.due is not None else "; not restarted"

    def _send_report(self) -> None:
        folder = self.config.reports_dir
        reports = sorted((p for p in folder.glob("*") if p.suffix.lower() in (".html", ".pdf")),
                         key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        if not reports:
            log.warning("the report job ended but wrote no .html or .pdf in %s: no report message", folder)
            return
        newest = reports[-1]
        pdf = newest.with_suffix(".pdf")
        assert self.alerts is not None
        self.alerts.report_ready(pdf if pdf.is_file() else newest)
