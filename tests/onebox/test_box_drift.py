"""The box's daily model drift job judges the site's last complete local day, in the site's zone, even
when faces of the new day are already in the lake."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from batch.drift import day_start_ms
from locallog import LocalLog
from moodlens.cli import main
from onebox.box import Box
from onebox.config import from_values
from schemas.expressions import EXPRESSIONS
from tests.batch.drift_events import BASELINE
from tests.onebox.test_supervisor import FakeClock, FakeSpawner
from tests.schemas.events import face_expression

ZONE = "Pacific/Kiritimati"  # UTC+14: for most of the day its date is not UTC's


def _faces(start_ms: int, n: int, rng: np.random.Generator) -> list[dict]:
    tops = rng.choice(len(EXPRESSIONS), size=n, p=np.asarray(BASELINE.shares) / sum(BASELINE.shares))
    return [face_expression(site_id="cafe", camera_id="door", track_id=f"t{start_ms}-{i}",
                            event_time_ms=start_ms + i * 1000, top_class=EXPRESSIONS[t]) for i, t in enumerate(tops)]


def test_the_daily_drift_job_shows_yesterday_not_the_day_just_begun(tmp_path: Path) -> None:
    today = dt.datetime.now(ZoneInfo(ZONE)).date()
    yesterday = today - dt.timedelta(days=1)
    rng = np.random.default_rng(5)
    events = _faces(day_start_ms(yesterday, ZONE) + 12 * 3_600_000, 150, rng)
    events += _faces(day_start_ms(today, ZONE), 1, rng)  # the new day's first face, already compacted
    assert events[-1]["event_time_ms"] <= time.time() * 1000
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(e).encode() for e in events])
    log.close()
    state = tmp_path / "s"
    config = from_values({"site": {"id": "cafe", "state_dir": str(state), "timezone": ZONE}},
                         [{"id": "door", "source": "0"}])
    lake = state / "lake"
    assert main(["batch", "compact", "--log", str(tmp_path / "log"), "--lake", str(lake), "--sites",
                 json.dumps({"cafe": {"timezone": ZONE}})]) == 0
    clock = [dt.datetime(2026, 11, 30, 23, 58)]
    box = Box(config, FakeSpawner(), FakeClock(), now=lambda: clock[0])
    box.start()
    clock[0] = dt.datetime(2026, 12, 1, 0, 11)  # the job's time: past midnight's compaction
    box.step()
    argv = list(box.supervisor.specs["drift"].argv)
    assert main(argv[argv.index("model"):]) == 0
    shown = json.loads((lake / "drift.json").read_text())
    assert shown["door"]["day"] == yesterday.isoformat()
