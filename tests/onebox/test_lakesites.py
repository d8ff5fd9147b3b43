"""A real box run writes its site's row into the lake's `sites` table under the lake's lock, so
its weekly report job (run without the site file) and `moodlens sql --lake` speak local time."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batch.lake.lock import folder_lock
from batch.lake.tables import LakeConfig, lake_sites, open_catalog
from onebox.box import Box
from onebox.config import SiteConfig, from_values
from onebox.jobruns import JobRuns
from onebox.layout import Layout
from onebox.processes import RealClock, SubprocessSpawner

REPO = Path(__file__).resolve().parents[2]
ZONE = "Asia/Tokyo"  # nine hours from UTC: a report in UTC could not pass for local time


def _moodlens(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "moodlens.cli", *argv], capture_output=True, text=True,
                          timeout=300, check=False, env=env)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    done = _moodlens("demo", "history", "--sites", "1", "--days", "2", "--seed", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def _config(state: Path, history: Path) -> SiteConfig:
    site = json.loads((history / "truth.json").read_text())["sites"]
    (site_id,) = site
    return from_values({"site": {"id": site_id, "name": "Café Central", "state_dir": str(state), "timezone": ZONE},
                        "thresholds": {"min_tracks": 1},
                        "lake": {"compact_args": ["batch", "compact", "--log", str(history / "log"),
                                                  "--lake", "{lake}"]}},
                       [{"id": "door", "source": "0"}])


def _step_until(box: Box, done: object, what: str, limit_s: float = 240) -> None:
    deadline = time.monotonic() + limit_s
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: {box.supervisor.status}"
        box.step()
        time.sleep(0.1)


def _rows(config: SiteConfig) -> list[dict[str, object]]:
    table = lake_sites(open_catalog(LakeConfig(root=config.lake_dir)))
    return [] if table is None else table.scan().to_arrow().select(["site_id", "name", "timezone"]).to_pylist()


def test_a_box_publishes_its_site_row_after_compaction_and_its_report_speaks_local_time(
        tmp_path: Path, history: Path) -> None:
    config = _config(tmp_path / "state", history)
    now = [dt.datetime(2026, 11, 30, 14, 59)]
    box = Box(config, SubprocessSpawner(), RealClock(), specs=[], now=lambda: now[0])
    box.start()
    box.step()
    assert not box.sites_published  # no lake yet: nothing to write into
    now[0] = dt.datetime(2026, 11, 30, 15, 1)  # the hourly compaction is due
    _step_until(box, lambda: box.runs.last_run_ms("compact") is not None and not box.supervisor.running("compact"),
                "the compaction")
    assert box.supervisor.status["compact"].last_exit == 0
    _step_until(box, lambda: box.sites_published, "the site row")
    assert _rows(config) == [{"site_id": config.site_id, "name": "Café Central", "timezone": ZONE}]

    now[0] = dt.datetime(2026, 12, 7, 6, 1)  # Monday 06:00: the weekly report job, without the site file
    assert "--config" not in box.jobs[[j.name for j in box.jobs].index("report")].template
    _step_until(box, lambda: box.runs.last_run_ms("report") is not None and not box.supervisor.running("report"),
                "the report")
    box.shutdown()
    html = sorted(config.reports_dir.glob("*.html"))
    assert html, box.supervisor.status["report"]
    text = html[-1].read_text(encoding="utf-8")
    assert f"local time ({ZONE})" in text and "local time (UTC)" not in text

    sql = _moodlens("sql", "--lake", str(config.lake_dir), "--format", "json",
                    "SELECT epoch_ms(hour) AS hour_ms, local_hour FROM sentiment_by_hour_site")
    assert sql.returncode == 0, sql.stderr
    rows = [json.loads(line) for line in sql.stdout.splitlines()]
    assert rows
    for row in rows:  # without the site file, the lake's sites row turns each UTC hour into Tokyo's
        utc = dt.datetime.fromtimestamp(row["hour_ms"] / 1000, dt.UTC)
        assert row["local_hour"] == utc.astimezone(ZoneInfo(ZONE)).hour != utc.hour


def test_a_lake_held_by_another_writer_is_never_raced_and_is_written_once_free(
        tmp_path: Path, history: Path) -> None:
    config = _config(tmp_path / "state", history)
    done = _moodlens("batch", "compact", "--log", str(history / "log"), "--lake", str(config.lake_dir))
    assert done.returncode == 0, done.stderr
    now = dt.datetime(2026, 11, 30, 14, 59)
    runs = JobRuns(Layout(config.state_dir).jobs)  # the daily jobs ran today: no lake writer of the box's own
    for job in ("retention", "drift", "crop-expiry"):
        runs.started(job, int(now.timestamp() * 1000) - 3_600_000)
        runs.ended(job, 0, int(now.timestamp() * 1000) - 3_500_000)
    box = Box(config, SubprocessSpawner(), RealClock(), specs=[], now=lambda: now)
    box.start()
    with folder_lock(config.lake_dir, "a maintenance run"):
        box.step()
        box.step()
        assert not box.sites_published and _rows(config) == []
    box.step()
    assert box.sites_published and [r["timezone"] for r in _rows(config)] == [ZONE]
    box.step()  # written once a run, not on every step
    table = lake_sites(open_catalog(LakeConfig(root=config.lake_dir)))
    assert table is not None and len(table.snapshots()) == 1
    box.shutdown()
