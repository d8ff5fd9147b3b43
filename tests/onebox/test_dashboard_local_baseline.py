"""The page's baseline curve for a site in a zone with daylight saving: the host keeps its baselines in the
site's local hours (ADR alarms-0006) and the page draws each at that local hour of today."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from locallog import LocalLog
from onebox.dashboard.server import state_for
from stream.embedded import EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.jsonl import dumps
from tests.stream.helpers import face

ZONE = "America/New_York"


def test_a_new_york_sites_baseline_is_drawn_at_its_local_hours(tmp_path: Path) -> None:
    """Three weeks of the same weekday morning, 09:00-12:00 New York time, windowed by the real host: the
    page draws today's curve at 09:00, 10:00 and 11:00 New York time (not at those hours of UTC)."""
    zone = ZoneInfo(ZONE)
    today = dt.datetime.now(zone).date()
    log = LocalLog(tmp_path / "log")
    for week in (3, 2, 1):
        morning = dt.datetime.combine(today - dt.timedelta(weeks=week), dt.time(9), zone)
        start = int(morning.timestamp() * 1000) // 60_000 * 60_000
        log.append([dumps(face(start + s * 1000, f"w{week}t{s // 20}", site="cafe", top="happy" if s % 4 else "sad",
                               n=week * 10_000 + s)) for s in range(0, 3 * 3600, 10)])
    config = RunnerConfig(engine=EngineConfig(window_minutes=(5, 15, 60)), check_time=False,
                          site_zones={"cafe": ZONE})
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "stream", config)
    runner.drain(flush=True)
    runner.close()
    state = state_for(tmp_path, None, timezone=ZONE)
    state.poll()
    hours = sorted(dt.datetime.fromtimestamp(p[0] / 1000, zone).hour for p in state.snapshot()["baseline"])
    assert hours == [9, 10, 11]
