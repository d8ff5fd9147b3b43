"""A saved host state whose alarm baselines were kept in UTC hours (alarm state version 3, written by the
real host of the commit before the local hours) is moved to the site's local hours, not read as them; and
a site in a zone with daylight saving restarts to the bytes of one run (ADR alarms-0006)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from batch.analytics.synthetic import HistoryConfig, generate_history
from locallog import LocalLog
from stream.alarms import AlarmEngine
from stream.embedded import ALARMS, OUTPUTS, EmbeddedRunner, RunnerConfig
from stream.host.kcl import SiteRecordProcessor
from stream.sources.kinesis.daemon import DaemonRecords
from stream.state.local import read_state
from stream.state.s3 import S3SiteStates
from tests.stream.alarm_reasons import since
from tests.stream.host.test_kcl import MemoryOutputs, StandIn, by_id, store  # noqa: F401 (a fixture)
from tests.support.previous_version import source_at

# main before alarm state version 4: its host keeps the baselines in UTC hours
PREVIOUS = "afc6ce2061f434268693f3f6586465976562d161"
BERLIN = "Europe/Berlin"
CUT_MS = 1_793_145_600_000  # 2026-10-27 00:00 UTC: two days after the autumn change


@pytest.fixture(scope="module")
def previous_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous commit's source, as `git archive` gives it (its pure-Python decoder: no C build)."""
    return source_at(PREVIOUS, tmp_path_factory.mktemp("previous"))


@pytest.fixture(scope="module")
def history() -> tuple[str, list[bytes], list[bytes]]:
    """Two weeks of one site's synthetic events across the last Sunday of October: (site, before the cut,
    after it), as `moodlens demo history` writes them to the log."""
    made = generate_history(HistoryConfig(sites=1, days=14, seed=3, start=date(2026, 10, 19)))
    lines = [(e["event_time_ms"], json.dumps(e, separators=(",", ":")).encode()) for e in made.events]
    (site,) = made.sites
    return site, [b for t, b in lines if t < CUT_MS], [b for t, b in lines if t >= CUT_MS]


def _log(folder: Path, *parts: list[bytes]) -> Path:
    with LocalLog(folder) as log:
        for part in parts:
            log.append(part)
    return folder


def _config(site: str, zone: str | None) -> RunnerConfig:
    return RunnerConfig(check_time=False, site_zones={site: zone} if zone else {})


def _run(log: Path, state: Path, config: RunnerConfig, flush: bool = False) -> dict[str, Any]:
    runner = EmbeddedRunner(LocalLog(log), state, config, source="log")
    try:
        runner.drain(flush=flush)
        return {name: s.alarms.snapshot() for name, s in runner.sites.states.items()}
    finally:
        runner.close()


def _previous_host(tree: Path, log: Path, state: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MOODLENS_REQUIRE_NATIVE")}
    done = subprocess.run([sys.executable, "-m", "moodlens.cli", "stream", "run", "--log", str(log), "--state",
                           str(state), "--once", "--no-time-check"], cwd=tree, env={**env, "PYTHONPATH": str(tree)},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_utc_state_of_the_previous_host_moves_to_the_sites_local_hours(
        previous_tree: Path, history: tuple[str, list[bytes], list[bytes]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """The previous host reads the days up to the cut; this host, with the site in Berlin, restores its
    state: each day its baselines kept in a UTC hour is in the Berlin hour and day a Berlin host puts it
    in, with the same counts (missing only the oldest days a UTC hour had let go: its latest seven days
    were not the Berlin hour's); after the rest of the log they are the Berlin host's. Said in the log."""
    site, before, after = history
    log, state = _log(tmp_path / "log", before), tmp_path / "state"
    _previous_host(previous_tree, log, state)
    _, saved = read_state(state)
    old = saved[site]["alarms"]
    assert old["version"] == 3 and old["day_baselines"]

    berlin = _run(_log(tmp_path / "fresh", before), tmp_path / "fresh-state", _config(site, BERLIN))[site]
    moved = AlarmEngine.restore(old, zones={site: BERLIN}).snapshot()
    learnt = {key: rows for _, key, rows in berlin["day_baselines"]}
    same = 0
    for _, key, rows in moved["day_baselines"]:
        assert rows == learnt[key][len(learnt[key]) - len(rows):], key
        same += rows == learnt[key]
    assert same >= len(learnt) * 3 // 4 and len(moved["day_baselines"]) == len(learnt)
    assert moved["day_baselines"] != old["day_baselines"]  # the hours did move

    with LocalLog(log) as more:
        more.append(after)
    with caplog.at_level(logging.INFO, logger="stream.host.sites"):
        continued = _run(log, state, _config(site, BERLIN), flush=True)[site]
    assert f"site {site}: its alarm baselines were kept in UTC hours (state version 3)" in caplog.text
    straight = _run(_log(tmp_path / "full", before, after), tmp_path / "full-state", _config(site, BERLIN),
                    flush=True)[site]
    assert continued["day_baselines"] == straight["day_baselines"]
    assert continued["zones"] == {site: BERLIN} and continued["version"] == 4


def test_a_berlin_site_restarted_mid_replay_writes_the_bytes_of_one_run(
        history: tuple[str, list[bytes], list[bytes]], tmp_path: Path) -> None:
    """Stopped after the days up to the cut (past the change) and started again on the rest: the outputs and
    the alarm state equal one run's."""
    site, before, after = history
    config = _config(site, BERLIN)
    once = _run(_log(tmp_path / "once", before, after), tmp_path / "once-state", config, flush=True)
    log = _log(tmp_path / "twice", before)
    _run(log, tmp_path / "twice-state", config)
    with LocalLog(log) as more:
        more.append(after)
    twice = _run(log, tmp_path / "twice-state", config, flush=True)
    assert twice == once
    for name in OUTPUTS:
        assert (tmp_path / "twice-state" / name).read_bytes() == (tmp_path / "once-state" / name).read_bytes()
    assert any(key.startswith("d") for _, key, _ in once[site]["day_baselines"])


def test_a_site_without_a_declared_zone_is_utc_said_once(
        history: tuple[str, list[bytes], list[bytes]], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    site, before, _ = history
    with caplog.at_level(logging.INFO, logger="stream.host.sites"):
        snapshot = _run(_log(tmp_path / "log", before), tmp_path / "state", _config(site, None))[site]
    assert caplog.text.count(f"site {site}: no time zone declared") == 1
    assert snapshot["zones"] == {site: "UTC"}
    shutil.rmtree(tmp_path / "log")


def test_the_box_and_kcl_workers_handing_a_berlin_site_over_give_the_same_alarms(
        history: tuple[str, list[bytes], list[bytes]], tmp_path: Path,
        store: Callable[[], S3SiteStates]) -> None:  # noqa: F811 (the fixture imported above)
    """The same two weeks through the box's runner and through KCL workers whose site states live in S3 (moto),
    the shard handed to another worker after the cut: the same alarms, their reasons in Berlin time."""
    site, before, after = history
    config = _config(site, BERLIN)
    _run(_log(tmp_path / "log", before, after), tmp_path / "state", config, flush=False)
    box = by_id([json.loads(line) for line in (tmp_path / "state" / ALARMS).read_text().splitlines()])
    assert any(since(a["reason"], "CET") is not None or since(a["reason"], "CEST") is not None for a in box.values())

    daemon = StandIn()
    daemon.put("shard-0", [(site, line) for line in before + after])
    out1, out2 = MemoryOutputs(), MemoryOutputs()
    first = SiteRecordProcessor(store(), out1, config, records=DaemonRecords(), log=lambda line: None)
    daemon.start("shard-0", first)
    daemon.deliver("shard-0", first, batch=1000, batches=len(before) // 1000)
    second = SiteRecordProcessor(store(), out2, config, records=DaemonRecords(), log=lambda line: None)
    daemon.steal("shard-0", second)
    daemon.deliver("shard-0", second, batch=1000)
    assert by_id(out1.alarms + out2.alarms) == box
