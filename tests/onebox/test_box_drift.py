"""The box's daily model drift job judges the site's local days not judged yet, in the site's zone: the last
complete one even when faces of the new day are already in the lake, each day once, and the days the box was
off for when it is back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from batch.drift import day_start_ms
from locallog import LocalLog
from moodlens.cli import main
from moodlens.commands import model_drift
from onebox.box import Box
from onebox.config import SiteConfig, from_values
from schemas.expressions import EXPRESSIONS
from tests.batch.drift_events import BASELINE
from tests.onebox.test_supervisor import FakeClock, FakeSpawner
from tests.schemas.events import face_expression

ZONE = "Pacific/Kiritimati"  # UTC+14: for most of the day its date is not UTC's


def _faces(start_ms: int, n: int, rng: np.random.Generator) -> list[dict]:
    tops = rng.choice(len(EXPRESSIONS), size=n, p=np.asarray(BASELINE.shares) / sum(BASELINE.shares))
    return [face_expression(site_id="cafe", camera_id="door", track_id=f"t{start_ms}-{i}",
                            event_time_ms=start_ms + i * 1000, top_class=EXPRESSIONS[t]) for i, t in enumerate(tops)]


def _lake_with_days(tmp_path: Path, days: list[dt.date], today: dt.date) -> tuple[Path, SiteConfig]:
    rng = np.random.default_rng(5)
    events = [e for day in days for e in _faces(day_start_ms(day, ZONE) + 12 * 3_600_000, 150, rng)]
    events += _faces(day_start_ms(today, ZONE), 1, rng)  # the new day's first face, already compacted
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(e).encode() for e in events])
    log.close()
    state = tmp_path / "s"
    config = from_values({"site": {"id": "cafe", "state_dir": str(state), "timezone": ZONE}},
                         [{"id": "door", "source": "0"}])
    lake = state / "lake"
    assert main(["batch", "compact", "--log", str(tmp_path / "log"), "--lake", str(lake), "--sites",
                 json.dumps({"cafe": {"timezone": ZONE}})]) == 0
    return lake, config


def _run_drift_job(box: Box) -> None:
    argv = list(box.supervisor.specs["drift"].argv)
    assert main(argv[argv.index("model"):]) == 0


def test_the_daily_drift_job_shows_yesterday_not_the_day_just_begun(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    today = dt.date(2026, 12, 1)
    yesterday = today - dt.timedelta(days=1)
    lake, config = _lake_with_days(tmp_path, [yesterday], today)
    site = ZoneInfo(ZONE)
    clock = [dt.datetime(2026, 11, 30, 23, 58, tzinfo=site)]
    box = Box(config, FakeSpawner(), FakeClock(), now=lambda: clock[0])
    box.start()
    clock[0] = dt.datetime(2026, 12, 1, 0, 41, tzinfo=site)  # the job's time: 40 minutes past the site's midnight
    monkeypatch.setattr(model_drift, "now", lambda: int(clock[0].timestamp() * 1000))
    box.step()
    _run_drift_job(box)
    shown = json.loads((lake / "drift.json").read_text())
    assert shown["door"]["day"] == yesterday.isoformat()


def test_days_the_box_was_off_for_are_judged_when_it_is_back_each_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    site = ZoneInfo(ZONE)
    first, today = dt.date(2026, 11, 25), dt.date(2026, 12, 1)
    lake, config = _lake_with_days(tmp_path, [first + dt.timedelta(days=i) for i in range(6)], today)
    clock = [dt.datetime(2026, 11, 26, 0, 41, tzinfo=site)]
    monkeypatch.setattr(model_drift, "now", lambda: int(clock[0].timestamp() * 1000))
    box = Box(config, FakeSpawner(), FakeClock(), now=lambda: clock[0])
    box.start()
    clock[0] += dt.timedelta(minutes=6)
    box.step()  # catch-up: never run, so due minutes after the start; judges the 25th, its last ended day
    _run_drift_job(box)
    assert "2026-11-25" in capsys.readouterr().out
    box.runs.started("drift", int(clock[0].timestamp() * 1000))
    # the box is off until 1 December 09:00: the job runs minutes after the start and judges 26-30 November
    clock[0] = dt.datetime(2026, 12, 1, 9, 0, tzinfo=site)
    again = Box(config, FakeSpawner(), FakeClock(), now=lambda: clock[0])
    again.start()
    clock[0] += dt.timedelta(minutes=6)
    again.step()
    _run_drift_job(again)
    judged = capsys.readouterr().out
    assert [f"2026-11-{d}" in judged for d in range(25, 31)] == [False] + [True] * 5
    assert "2026-12-01" not in judged
    assert json.loads((lake / "drift.json").read_text())["door"]["day"] == "2026-11-30"


def test_jobs_follow_the_sites_clock_whatever_the_machines_clock(tmp_path: Path) -> None:
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path / "s"), "timezone": "America/Los_Angeles"},
                          "report": {"weekday": "monday", "hour": 6}}, [{"id": "door", "source": "0"}])
    box = Box(config, FakeSpawner(), FakeClock())
    now = box.clock_now()
    jobs = {job.name: job.next_due(now) for job in box.jobs}
    for name, local_time in [("report", dt.time(6, 0)), ("drift", dt.time(0, 40)), ("forecast", dt.time(0, 5))]:
        due = jobs[name]
        assert due is not None and due.utcoffset() is not None, name
        at_site = due.astimezone(ZoneInfo("America/Los_Angeles"))
        assert at_site.time() == local_time, (name, at_site)
    assert jobs["report"].astimezone(ZoneInfo("America/Los_Angeles")).weekday() == 0
