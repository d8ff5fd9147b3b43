"""When `up`'s jobs are due after a restart: by their schedule and their last runs (`run/jobs.json`), never
by the moment `up` started, so a box restarted often (a crash loop, a nightly reboot) still runs them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onebox.box import Box
from onebox.config import SiteConfig, from_values
from onebox.jobruns import JobRuns
from onebox.layout import Layout
from tests.onebox.test_supervisor import FakeClock, FakeSpawner

MONDAY = dt.datetime(2026, 12, 7, 9, 0)


def _config(state: Path, compact_minutes: int = 60) -> SiteConfig:
    return from_values({"site": {"id": "cafe", "state_dir": str(state)},
                        "lake": {"compact_every_minutes": compact_minutes}}, [{"id": "door", "source": "0"}])


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _box(state: Path, clock: list[dt.datetime], spawner: FakeSpawner | None = None) -> Box:
    return Box(_config(state), spawner or FakeSpawner(), FakeClock(), specs=[], now=lambda: clock[0])


def _live(state: Path, start: dt.datetime, minutes: int) -> set[str]:
    """One life of `up`: started at `start`, stepped every minute for `minutes`, then gone (kill -9: nothing
    recorded at the end); the jobs it started."""
    clock = [start]
    box = _box(state, clock)
    box.start()
    for minute in range(minutes + 1):
        clock[0] = start + dt.timedelta(minutes=minute)
        box.step()
    return {name for name, spec in box.supervisor.specs.items() if spec.kind == "job"}


def test_a_box_restarted_every_three_minutes_still_runs_its_daily_jobs(tmp_path: Path) -> None:
    state, started = tmp_path / "s", set[str]()
    for life in range(20):  # an hour of a crash loop: each `up` lives three minutes
        started |= _live(state, MONDAY + dt.timedelta(minutes=3 * life), 3)
    assert "retention" in started
    assert JobRuns.load(Layout(state).jobs).last_run_ms("retention") is not None


def test_a_restart_keeps_a_done_daily_jobs_hour_and_runs_one_missed_while_down_at_once(tmp_path: Path) -> None:
    state = tmp_path / "s"
    runs = JobRuns(Layout(state).jobs)
    runs.started("retention", _ms(MONDAY.replace(hour=0, minute=20)))  # ran today at its hour
    runs.ended("retention", 0, _ms(MONDAY.replace(hour=0, minute=21)))
    runs.started("compact", _ms(MONDAY - dt.timedelta(hours=2)))  # the box was down at 8:00 and 9:00
    runs.ended("compact", 0, _ms(MONDAY - dt.timedelta(hours=2) + dt.timedelta(minutes=1)))
    last_monday_report = MONDAY - dt.timedelta(days=7, hours=3)  # 6:00 a week ago; today's 6:00 was missed
    runs.started("report", _ms(last_monday_report))
    runs.ended("report", 0, _ms(last_monday_report + dt.timedelta(minutes=2)))
    clock = [MONDAY + dt.timedelta(minutes=7)]
    box = _box(state, clock)
    box.start()
    due = {job.name: job.due for job in box.jobs}
    assert due["retention"] == dt.datetime(2026, 12, 8, 0, 20)
    assert due["compact"] is not None and due["compact"] <= clock[0]
    assert due["report"] is not None and due["report"] <= clock[0]
    box.step()
    assert box.supervisor.running("compact") and box.supervisor.running("report")


def _running_the_report(state: Path, clock: list[dt.datetime], spawner: FakeSpawner) -> Box:
    """A box started at 5:59 on a Monday, stepped at 6:00:10: its weekly report has started."""
    box = _box(state, clock, spawner)
    box.start()
    clock[0] = MONDAY.replace(hour=6, minute=0, second=10)
    box.step()
    assert box.supervisor.running("report")
    return box


def test_a_job_the_box_died_under_runs_again_at_the_next_start_and_the_log_says_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "s"
    clock, spawner = [MONDAY.replace(hour=5, minute=59)], FakeSpawner()
    _running_the_report(state, clock, spawner)  # ... and `up` was killed
    clock[0] = MONDAY.replace(hour=6, minute=3)
    again = _box(state, clock)
    caplog.set_level("INFO", "moodlens.up")
    again.start()
    again.step()
    assert again.supervisor.running("report")
    assert "report due now: its run of 2026-12-07 06:00 never ended (`up` was killed" in caplog.text


def test_a_job_stopped_with_the_box_runs_again_at_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "s"
    clock, spawner = [MONDAY.replace(hour=5, minute=59)], FakeSpawner()
    box = _running_the_report(state, clock, spawner)
    for process in spawner.spawned:  # Ctrl-C: every child stops on its signal
        process.code = -2
    box.shutdown(grace_s=0.0)
    assert JobRuns.load(Layout(state).jobs).runs["report"]["interrupted"] is True
    clock[0] = MONDAY.replace(hour=6, minute=3)
    again = _box(state, clock)
    again.start()
    again.step()
    assert again.supervisor.running("report")


@settings(max_examples=25, deadline=None)
@given(restart_minutes=st.lists(st.integers(1, 600), min_size=1, max_size=8))
def test_restarts_never_postpone_a_due_job(tmp_path_factory: pytest.TempPathFactory,
                                           restart_minutes: list[int]) -> None:
    """However `up` is restarted, every job is due no later than its schedule says from its last run."""
    state = tmp_path_factory.mktemp("s")
    moment = MONDAY
    for minutes in restart_minutes:
        moment += dt.timedelta(minutes=minutes)
        clock = [moment]
        box = _box(state, clock)
        runs = JobRuns.load(Layout(state).jobs)
        box.start()
        for job in box.jobs:
            last = runs.last_run_ms(job.name)
            assert job.due is not None
            assert job.due <= job.next_due(moment)
            if last is not None:
                missed = job.next_due(dt.datetime.fromtimestamp(last / 1000))
                assert job.due <= max(missed, moment)
        box.step()
