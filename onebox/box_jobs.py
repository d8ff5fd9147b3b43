"""The box's scheduled jobs: what runs when (compaction, the weekly report, the daily forecast, drift,
retention and crop expiry), on the site's own clock, and when each is due at start.

A job is due by its schedule and the record of its last runs (`onebox.jobruns`), never by when `up`
started, so a box restarted often (a crash loop, a nightly reboot) still runs what is due.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from onebox.config import SiteConfig
from onebox.jobruns import JobRuns
from onebox.lakesites import lake_exists
from onebox.schedule import next_every, next_weekly
from onebox.supervisor import ChildSpec, Supervisor

log = logging.getLogger("moodlens.up")
# Daily, a few minutes after midnight's compaction: the dashboard's forecast line and the model's drift.
DAILY_FORECAST = ["batch", "forecast", "--lake", "{lake}", "--site", "{site}", "--dashboard-json",
                  "{lake}/forecast.json"]
# Drift judges the site's local days not judged yet (`--due`, the record in the lake folder), as AWS's hourly
# run does: days the box was off for are judged when it is back, each day once.
DAILY_DRIFT = ["model", "drift", "--lake", "{lake}", "--site", "{site}", "--due", "{lake}/drift-judged-days.json",
               "--exit-zero", "--dashboard-json", "{lake}/drift.json"]
# Daily retention: the lake's old rows and snapshots (`batch maintain`), the crop store's expired crops.
DAILY_RETENTION = ["batch", "maintain", "--lake", "{lake}", "--retain-days"]  # + [lake] retain_days
DAILY_CROP_EXPIRY = ["label", "purge", "{crops}", "--key", "{key}", "--retain-days"]  # + [labeling] retention_days
FIVE_MIN, DRIFT_AT = dt.timedelta(minutes=5), dt.timedelta(minutes=40)  # drift: after `--due`'s 30 minutes
RETENTION_AT, CROP_EXPIRY_AT = dt.timedelta(minutes=20), dt.timedelta(minutes=25)


def site_clock(zone: str) -> Callable[[], dt.datetime]:
    """The site's wall clock: the report's weekday and hour and the daily jobs' midnight are the site's, also on a
    machine whose own clock is UTC. Aware times in one zone compare and add as wall-clock times."""
    site_zone = ZoneInfo(zone)
    return lambda: dt.datetime.now(site_zone)


def when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").rstrip()


@dataclass
class Job:
    name: str
    template: Sequence[str]
    next_due: Callable[[dt.datetime], dt.datetime]
    due: dt.datetime | None = None
    catch_up: bool = False  # never run on this box yet: due at the first start, not at its first hour
    blocked: Callable[[], str | None] | None = None  # why it cannot run now (None: it can)
    blocked_logged: bool = False
    writes_lake: bool = False  # never beside another job that writes the lake: it waits for that one to end


def site_jobs(config: SiteConfig) -> list[Job]:
    """The site file's jobs, in the order they start when several are due at once."""
    every = int(config.get("lake", "compact_every_minutes"))
    report = config.values["report"]
    jobs = [Job("report", report["args"], lambda now: next_weekly(now, report["weekday"], report["hour"]))]
    if every > 0:
        jobs.insert(0, Job("compact", config.get("lake", "compact_args"), lambda now: next_every(now, every),
                           writes_lake=True))
        # daily, a few minutes past midnight's compaction: the dashboard's forecast line and model drift
        # both read the lake: on a new box, before its first compaction, there is nothing to read
        jobs.insert(1, Job("forecast", DAILY_FORECAST, lambda now: next_every(now, 24 * 60) + FIVE_MIN,
                           blocked=lambda: lake_missing(config)))
        jobs.insert(2, Job("drift", DAILY_DRIFT, lambda now: next_every(now, 24 * 60) + DRIFT_AT,
                           catch_up=True, blocked=lambda: lake_missing(config)))
        retain = [*DAILY_RETENTION, str(config.get("lake", "retain_days"))]
        jobs.append(Job("retention", retain, lambda now: next_every(now, 24 * 60) + RETENTION_AT,
                        catch_up=True, writes_lake=True))
    expiry = [*DAILY_CROP_EXPIRY, str(config.get("labeling", "retention_days"))]
    jobs.append(Job("crop-expiry", expiry, lambda now: next_every(now, 24 * 60) + CROP_EXPIRY_AT,
                    catch_up=True, blocked=lambda: crop_store_missing(config)))
    return jobs


def first_due(job: Job, runs: JobRuns, now: dt.datetime) -> tuple[dt.datetime, str]:
    """When a job is due at start, and why then: from its schedule and its last run, never from the start's
    time, so a box restarted often (a crash loop, a nightly reboot) still runs what is due. A run the box
    missed while it was down, or one it died under or stopped, is due now; a daily catch-up job never run is too."""
    due = job.next_due(now)
    run = runs.runs.get(job.name)
    if run is None:
        return (now, "never run on this box") if job.catch_up else (due, "")
    last = dt.datetime.fromtimestamp(int(run["last_run_ms"]) / 1000, now.tzinfo)
    if run.get("finished_ms") is None:
        return now, f"its run of {when(last)} never ended (`up` was killed or the machine went down under it)"
    if run.get("interrupted"):
        return now, f"its run of {when(last)} was stopped with `up` before it ended"
    missed = job.next_due(last)
    return (now, f"missed at {when(missed)} (last run {when(last)})") if missed <= now else (due, "")


def run_due_jobs(jobs: list[Job], now: dt.datetime, supervisor: Supervisor,
                 spec: Callable[[Job], ChildSpec]) -> None:
    """Starts the jobs due at ``now``; a lake writer waits while another runs; a blocked one says why once."""
    for job in jobs:
        if job.due is None or now < job.due:
            continue
        if job.writes_lake and any(other.writes_lake and supervisor.running(other.name)
                                   for other in jobs if other is not job):
            continue  # still due: it starts once the other lake writer has ended
        job.due = job.next_due(now)
        if job.blocked is not None and (reason := job.blocked()):
            if not job.blocked_logged:
                log.info("%s skipped: %s; next try %s", job.name, reason, when(job.due))
                job.blocked_logged = True
            continue
        if not supervisor.run_job(spec(job)):
            log.warning("%s skipped: its previous run is still going", job.name)


def lake_missing(config: SiteConfig) -> str | None:
    return None if lake_exists(config) else f"no lake yet at {config.lake_dir} (compaction writes it)"


def crop_store_missing(config: SiteConfig) -> str | None:
    crops, key = config.label_crops_dir, config.label_key_file
    if not crops.is_dir():
        return f"no crop store at {crops} (labeling is off)"
    if not key.is_file():
        return f"the crop store's key {key} is not on this box (`label purge` needs it); run it where the key is"
    return None
