"""`moodlens up` runs retention (`batch maintain`) and crop expiry daily, and the page shows when they ran."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from locallog import LocalLog
from moodlens.cli import main
from onebox.box import Box
from onebox.config import from_values
from onebox.dashboard.server import state_for
from onebox.jobruns import JobRuns
from onebox.layout import Layout
from onebox.processes import RealClock, SubprocessSpawner
from tests.batch.lakes import update
from tests.onebox.test_supervisor import FakeClock, FakeSpawner

DAY_MS = 86_400_000


def _rows(lake: Path, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    assert main(["sql", "--raw", "--lake", str(lake), "--format", "csv",
                 "SELECT count(*) AS n FROM face_expression"]) == 0
    return int(capsys.readouterr().out.splitlines()[1])


def test_up_deletes_rows_older_than_the_retention_that_compaction_wrote(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "s"
    config = from_values({"site": {"id": "cafe-1", "state_dir": str(state)},
                          "lake": {"compact_every_minutes": 24 * 60, "retain_days": 180}},
                         [{"id": "cam-a", "source": "0"}])
    now_ms = int(time.time() * 1000)
    old = [update(now_ms - 200 * DAY_MS + i * 1000, track_id=f"old{i}") for i in range(30)]
    recent = [update(now_ms - 2 * DAY_MS + i * 1000, track_id=f"new{i}") for i in range(12)]
    with LocalLog(Layout(state).log) as log:
        log.append([json.dumps(e).encode() for e in old + recent])
    assert main(["batch", "compact", "--log", str(Layout(state).log), "--lake", str(config.lake_dir)]) == 0
    assert _rows(config.lake_dir, capsys) == 42

    clock = [dt.datetime.now()]
    box = Box(config, SubprocessSpawner(), RealClock(), specs=[], now=lambda: clock[0])
    box.jobs = [job for job in box.jobs if job.name in ("retention", "crop-expiry")]  # the jobs under test
    box.start()  # never ran here: due five minutes after start, not at 00:20
    clock[0] += dt.timedelta(minutes=6)
    box.step()
    assert "retention" in box.supervisor.specs
    deadline = time.monotonic() + 180
    while box.supervisor.running("retention"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        box.step()
    box.write_status(force=True)
    assert box.supervisor.status["retention"].last_exit == 0
    assert _rows(config.lake_dir, capsys) == 12  # the 30 rows past 180 days went, the recent ones stayed

    shown = state_for(state, None, config.lake_dir).snapshot()["jobs"]
    retention = next(j for j in shown if j["name"] == "retention")
    assert retention["last_exit"] == 0 and abs(retention["last_run_ms"] - clock[0].timestamp() * 1000) < 1000
    # the crop store does not exist: crop expiry is skipped, not failed
    assert "crop-expiry" not in box.supervisor.specs and "crop-expiry" not in {j["name"] for j in shown}


def test_crop_expiry_runs_label_purge_on_the_store_with_its_key(tmp_path: Path) -> None:
    state = tmp_path / "s"
    (tmp_path / "crops").mkdir()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "label.key").write_text("k")
    config = from_values({"site": {"id": "cafe", "state_dir": str(state)},
                          "labeling": {"crops_dir": str(tmp_path / "crops"),
                                       "key_file": str(tmp_path / "keys" / "label.key")}},
                         [{"id": "door", "source": "0"}])
    clock = [dt.datetime(2026, 12, 7, 12, 0)]
    box = Box(config, FakeSpawner(), FakeClock(), specs=[], now=lambda: clock[0])
    box.start()
    clock[0] += dt.timedelta(minutes=6)
    box.step()
    assert box.supervisor.specs["crop-expiry"].argv[-6:] == ("purge", str(tmp_path / "crops"), "--key",
                                                               str(tmp_path / "keys" / "label.key"),
                                                               "--retain-days", "30")  # the site file's
    assert {j["name"] for j in JobRuns.load(box.layout.jobs).to_json()} >= {"crop-expiry", "retention"}


def test_a_daily_job_that_ran_today_keeps_its_hour_and_one_the_box_missed_runs_at_start(tmp_path: Path) -> None:
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path / "s")}}, [{"id": "door", "source": "0"}])
    start = dt.datetime(2026, 12, 7, 12, 0)
    runs = JobRuns(Layout(config.state_dir).jobs)
    for name, ran in (("retention", start - dt.timedelta(hours=3)), ("crop-expiry", start - dt.timedelta(days=2))):
        runs.started(name, int(ran.timestamp() * 1000))
        runs.ended(name, 0, int(ran.timestamp() * 1000) + 60_000)
    box = Box(config, FakeSpawner(), FakeClock(), specs=[], now=lambda: start)
    box.start()
    due = {j.name: j.due for j in box.jobs}
    assert due["retention"] == dt.datetime(2026, 12, 8, 0, 20)
    assert due["crop-expiry"] == start


def test_retention_waits_for_a_running_compaction_and_starts_when_it_ends(tmp_path: Path) -> None:
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path / "s")}}, [{"id": "door", "source": "0"}])
    clock = [dt.datetime(2026, 12, 7, 23, 59)]
    spawner = FakeSpawner()
    box = Box(config, spawner, FakeClock(), specs=[], now=lambda: clock[0])
    box.start()
    clock[0] = dt.datetime(2026, 12, 8, 0, 0, 30)
    box.step()
    assert box.supervisor.running("compact") and "retention" not in box.supervisor.specs
    clock[0] = dt.datetime(2026, 12, 8, 0, 21)  # retention is due while the compaction still runs
    box.step()
    assert "retention" not in box.supervisor.specs
    spawner.spawned[0].code = 0  # the compaction ends
    box.step()
    box.step()
    assert box.supervisor.running("retention")
