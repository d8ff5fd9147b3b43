"""`moodlens up`'s box: jobs on schedule (or skipped when missing), the disk budget, the lock, SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batch.compact.checkpoint import write_offset
from locallog import LocalLog
from moodlens.cli import main
from onebox import disk_budget
from onebox.box import Box
from onebox.config import from_values
from onebox.layout import AlreadyRunningError, lock
from onebox.schedule import next_every, next_weekly
from tests.onebox.test_supervisor import FakeClock, FakeSpawner

REPO = Path(__file__).resolve().parents[2]


def _config(state: Path, **sections: dict) -> object:
    return from_values({"site": {"id": "cafe", "state_dir": str(state)}, **sections}, [{"id": "door", "source": "0"}])


def _compacted(state: Path) -> None:
    """The lake a first compaction writes (of a log with nothing in it yet)."""
    LocalLog(state / "log").close()
    assert main(["batch", "compact", "--log", str(state / "log"), "--lake", str(state / "lake")]) == 0


def test_schedules_run_on_the_hour_and_weekly() -> None:
    now = dt.datetime(2026, 11, 30, 14, 20)  # a Monday
    assert next_every(now, 60) == dt.datetime(2026, 11, 30, 15, 0)
    assert next_every(now, 15) == dt.datetime(2026, 11, 30, 14, 30)
    assert next_weekly(now, "monday", 6) == dt.datetime(2026, 12, 7, 6, 0)
    assert next_weekly(now, "wednesday", 6) == dt.datetime(2026, 12, 2, 6, 0)


def test_due_jobs_run_as_the_supervisors_children_and_a_lake_writer_waits_for_the_other(tmp_path: Path) -> None:
    clock, spawner = FakeClock(), FakeSpawner()
    now = [dt.datetime(2026, 11, 30, 14, 59)]
    box = Box(_config(tmp_path / "s"), spawner, clock, now=lambda: now[0])
    _compacted(tmp_path / "s")
    box.start()
    assert [s.name for s in box.supervisor.specs.values()] == ["edge-door", "stream"]
    now[0] = dt.datetime(2026, 12, 7, 6, 1)  # past the hour, midnight's jobs and the weekly report
    box.step()
    compact = box.supervisor.specs["compact"]
    assert compact.argv[-4:] == ("--log", str(tmp_path / "s" / "log"), "--lake", str(tmp_path / "s" / "lake"))
    assert box.supervisor.specs["report"].argv[-5:-3] == ("report", "--lake")
    # retention writes the lake too: it waits while the compaction runs; crop expiry has no crop store
    assert "retention" not in box.supervisor.specs and "crop-expiry" not in box.supervisor.specs
    status = json.loads((tmp_path / "s" / "run" / "status.json").read_text())
    assert {c["name"] for c in status["children"]} == {"edge-door", "stream", "compact", "forecast", "drift",
                                                       "report"}


def test_the_disk_budget_warns_first_then_frees_what_the_stream_has_read(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "s"
    box = Box(_config(state, disk={"budget_mb": 1, "warn_percent": 50}), FakeSpawner(), FakeClock())
    box.layout.make()
    with caplog.at_level(logging.WARNING, logger="moodlens.up"):
        (box.layout.logs / "moodlens.log").write_bytes(b"x" * 600_000)
        assert box.check_disk().level == "warn"
        assert "past the 50% warning" in caplog.text
        (box.layout.logs / "moodlens.log.1").write_bytes(b"x" * 450_000)
        log = LocalLog(box.layout.log, segment_bytes=1000)
        for i in range(0, 300, 3):
            log.append([json.dumps({"n": n, "pad": "y" * 100}).encode() for n in range(i, i + 3)])
        log.close()
        (box.layout.stream / "checkpoint.json").write_text(json.dumps({"position": 150}))
        box.check_disk()
        assert LocalLog(box.layout.log).start_offset() == 0  # windowed, but not yet in the lake: kept
        write_offset(box.config.lake_dir, box.layout.log, 120)  # compaction has read up to 120
        (box.layout.logs / "moodlens.log.1").write_bytes(b"x" * 450_000)  # over the budget again
        assessment = box.check_disk()
    assert "over budget; freed" in caplog.text
    assert not (box.layout.logs / "moodlens.log.1").exists()
    kept = LocalLog(box.layout.log)
    assert 110 <= kept.start_offset() <= 120 and kept.end_offset() == 300  # nothing the lake lacks went
    assert assessment.used_bytes == disk_budget.usage(box.layout.root.iterdir())


def test_a_crashed_child_is_logged_at_error_with_its_exit_and_when_it_restarts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock, spawner = FakeClock(), FakeSpawner()
    box = Box(_config(tmp_path / "s"), spawner, clock, jobs_enabled=False)
    box.start()
    edge = spawner.spawned[0]
    with caplog.at_level(logging.INFO, logger="moodlens.up"):
        edge.code = 75  # a live camera that cannot be reached
        box.step()
        clock.now += 1.0
        box.step()
        spawner.spawned[-1].code = 75
        box.step()
    crashes = [r for r in caplog.records if getattr(r, "event", None) == "crashed"]
    assert [(r.levelno, r.getMessage()) for r in crashes] == [
        (logging.ERROR, "crashed (exit 75); restart 1 in 1.0 s"),
        (logging.ERROR, "crashed (exit 75); restart 2 in 2.0 s")]
    assert [r.restart_in_s for r in crashes] == [1.0, 2.0]


def test_the_status_tells_the_page_the_sites_lateness(tmp_path: Path) -> None:
    box = Box(_config(tmp_path / "s", thresholds={"lateness_s": 300}), FakeSpawner(), FakeClock())
    assert box.status()["lateness_s"] == 300


def test_a_new_box_skips_the_jobs_that_read_the_lake_until_its_first_compaction_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = [dt.datetime(2026, 12, 7, 23, 15)]
    spawner = FakeSpawner()
    box = Box(_config(tmp_path / "s"), spawner, FakeClock(), now=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="moodlens.up"):
        box.start()
        now[0] += dt.timedelta(minutes=6)  # the drift the box never ran is due 5 minutes after the start
        box.step()
        assert "drift" not in box.supervisor.specs
        assert f"drift skipped: no lake yet at {tmp_path / 's' / 'lake'} (compaction writes it)" in caplog.text
        retention = next(p for p, s in zip(spawner.spawned, box.supervisor.specs.values(), strict=True)
                         if s.name == "retention")
        retention.code = 2  # a job that fails waits for its next run; the site file is not to blame
        box.step()
    failed = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "failed"]
    assert failed == ["failed (exit 2); next run 2026-12-08 00:20"]
    assert "fix the site file" not in caplog.text


def test_a_second_box_on_the_same_state_folder_is_refused(tmp_path: Path) -> None:
    first = lock(tmp_path)
    with pytest.raises(AlreadyRunningError, match=rf"pid {os.getpid()}\) is already running on the state folder"):
        lock(tmp_path)
    first.close()
    lock(tmp_path).close()  # released with the first


def test_up_runs_the_site_and_sigterm_stops_every_child_cleanly(tmp_path: Path) -> None:
    site = tmp_path / "moodlens.toml"
    site.write_text(f'[site]\nid = "cafe"\nstate_dir = "st"\ntimezone = "Asia/Kathmandu"\n[[cameras]]\nid = "door"\n'
                    f'source = "{REPO / "data/video/WolfgangLanger_Pexels.mp4"}"\nrealtime = true\n'
                    '[thresholds]\nmin_tracks = 1\n[dashboard]\nport = 0\n'.replace("port = 0", "enabled = false"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TZ": "UTC"}  # a box whose own clock is UTC
    began = dt.datetime.now(ZoneInfo("Asia/Kathmandu")).replace(microsecond=0, tzinfo=None)
    up = subprocess.Popen([sys.executable, "-m", "moodlens.cli", "up", "--config", str(site)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = tmp_path / "st" / "run" / "status.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if status.exists() and all(c["state"] == "running" for c in json.loads(status.read_text())["children"]):
            break
        time.sleep(0.1)
    second = subprocess.run([sys.executable, "-m", "moodlens.cli", "up", "--config", str(site)], check=False, env=env,
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 2 and "already running on the state folder" in second.stderr
    deadline = time.monotonic() + 30  # the edge is in its frame loop and the runner is following the log
    log_dir, stream_dir = tmp_path / "st" / "log", tmp_path / "st" / "stream"
    while not ((stream_dir / "windows.jsonl").exists() and log_dir.is_dir() and LocalLog(log_dir).end_offset() > 0):
        assert time.monotonic() < deadline, up.stdout
        time.sleep(0.1)
    time.sleep(0.5)
    up.send_signal(signal.SIGTERM)
    output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    ended = dt.datetime.now(ZoneInfo("Asia/Kathmandu")).replace(tzinfo=None)
    banner, first = output.splitlines()[:2]
    assert "1 camera; no dashboard;" in banner and "times below are the site's (Asia/Kathmandu)" in banner
    clock = dt.datetime.combine(began.date(), dt.time.fromisoformat(first.split()[0]))
    assert began <= clock + dt.timedelta(days=clock < began) <= ended, (began, first, ended)
    children = {c["name"]: c for c in json.loads(status.read_text())["children"]}
    assert {c["state"] for c in children.values()} == {"stopped"}, children
    assert children["stream"]["last_exit"] == 0
    records = [json.loads(line) for line in (tmp_path / "st" / "logs" / "moodlens.log").read_text().splitlines()]
    assert any(r.get("child") == "stream" and r.get("event") == "stopped" for r in records)
    # the edge drained its spool into the log before the runner stopped, and the runner read it all
    assert json.loads((stream_dir / "checkpoint.json").read_text())["position"] == LocalLog(log_dir).end_offset()


def test_the_dashboards_forecast_and_model_drift_are_refreshed_daily_when_the_box_compacts(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 11, 30, 23, 58)]
    box = Box(_config(tmp_path / "s"), FakeSpawner(), FakeClock(),
              now=lambda: now[0])
    assert [j.name for j in box.jobs] == ["compact", "forecast", "drift", "report", "retention", "crop-expiry"]
    _compacted(tmp_path / "s")
    box.start()
    now[0] = dt.datetime(2026, 12, 1, 0, 11)  # past midnight's compaction, then 00:05 and 00:10
    box.step()
    lake = str(tmp_path / "s" / "lake")
    forecast, drift = box.supervisor.specs["forecast"].argv, box.supervisor.specs["drift"].argv
    assert forecast[-8:] == ("batch", "forecast", "--lake", lake, "--site", "cafe", "--dashboard-json",
                             f"{lake}/forecast.json")
    assert drift[-2:] == ("--dashboard-json", f"{lake}/drift.json") and "--exit-zero" in drift
    off = Box(_config(tmp_path / "t", lake={"compact_every_minutes": 0}), FakeSpawner(), FakeClock())
    assert [j.name for j in off.jobs] == ["report", "crop-expiry"]  # no lake kept: nothing to forecast or retain


def test_the_status_gives_the_page_the_sites_name_for_people(tmp_path: Path) -> None:
    named = from_values({"site": {"id": "cafe", "name": "Café Central", "state_dir": str(tmp_path / "s")}},
                        [{"id": "door", "source": "0"}])
    assert Box(named, FakeSpawner(), FakeClock()).status()["site_name"] == "Café Central"
    assert Box(_config(tmp_path / "u"), FakeSpawner(), FakeClock()).status()["site_name"] == "cafe"  # unnamed: its id
