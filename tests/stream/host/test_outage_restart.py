"""A restart is invisible to ``site_unreachable``: a host killed with -9 during a site's outage and started
again neither reports the outage twice nor forgets to clear it, and a site silent before the restart counts
from its last event before it. The hosts are real processes (the `stream run` host on a local log, killed
with SIGKILL), on a fake wall clock where the minutes matter, on the real one for the CLI itself; a state
written by the previous version's host (site state version 2) still loads."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from locallog import LocalLog
from moodlens.cli import build_parser
from moodlens.commands.stream_host import host_config
from stream.embedded import ALARMS, EmbeddedRunner
from stream.host.kcl import SiteRecordProcessor
from stream.host.loop import Host, HostConfig
from stream.host.outage import RULE
from stream.host.sites import SITE_STATE_VERSION
from stream.jsonl import dumps, iter_jsonl
from stream.sources.kinesis.daemon import DaemonRecords
from stream.sources.locallog import LocalLogSource
from stream.state.local import read_state
from stream.state.s3 import S3SiteStates, S3StateStore
from tests.stream.helpers import face
from tests.stream.host.test_kcl import MemoryOutputs, StandIn, store  # noqa: F401 (a fixture)
from tests.stream.state.test_s3 import make_bucket
from tests.stream.test_embedded import CrashAt, SimulatedCrashError
from tests.support.previous_version import REPO, source_at

PREVIOUS = "42b62b44c470314efc422638b4f57c0bd96eabd3"  # main before the reachability was saved (version 2)
START = 1_796_000_000  # s; a minute boundary in 2026: the time checks stay on
STEP_S = 5
SOUTH_SILENT_FROM = 10  # minute: south's uplink drops

# The `stream run` host on a local log (what `build_host` wires), stepped at the times of a plan, each step
# after appending the plan's lines to the log; then killed with SIGKILL ("kill") or stopped ("stop").
HOST = textwrap.dedent("""
    import json, os, signal, sys
    from locallog import LocalLog
    from moodlens.cli import build_parser
    from moodlens.commands.stream_host import host_config
    from stream.embedded import EmbeddedRunner
    log, state, plan_file, end, *flags = sys.argv[1:]
    args = build_parser().parse_args(["stream", "run", "--log", log, "--state", state, *flags])
    with open(plan_file) as file:
        plan = json.load(file)
    now = [plan[0][0]]
    runner = EmbeddedRunner(LocalLog(log), state, host_config(args), source="locallog:" + log, clock=lambda: now[0])
    writer = LocalLog(log)
    for at, lines in plan:
        now[0] = at
        if lines:
            writer.append([line.encode() for line in lines])
        runner.step()
    if end == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    runner.commit()
    runner.close()
""")


def plan(first_minute: float, last_minute: float, south_back: float | None = None,
         sparse: str | None = None) -> list[list[Any]]:
    """A step every 5 s: north sends a face each step; south up to minute 10 and again from ``south_back``;
    a ``sparse`` site one every two minutes."""
    steps = []
    for second in range(int(first_minute * 60), int(last_minute * 60) + 1, STEP_S):
        at = START + second
        lines = [dumps(face(at * 1000, f"n-{second // 60}", site="north", n=second)).decode()]
        if second < SOUTH_SILENT_FROM * 60 or (south_back is not None and second >= south_back * 60):
            lines.append(dumps(face(at * 1000, f"s-{second // 60}", site="south", n=second)).decode())
        if sparse is not None and second % 120 == 0:
            lines.append(dumps(face(at * 1000, f"{sparse}-{second // 60}", site=sparse, n=second)).decode())
        steps.append([at, lines])
    return steps


def host(tree: Path, root: Path, steps: list[list[Any]], end: str, *flags: str) -> str:
    """Runs the host of ``tree`` (this one or the previous version's) as a process; returns its stderr."""
    plan_file = root / f"plan-{steps[0][0]}.json"
    plan_file.write_text(json.dumps(steps))
    env = dict(os.environ)
    if tree != REPO:  # the previous version's tree has no built C extension
        env.pop("MOODLENS_REQUIRE_NATIVE", None)
    argv = [sys.executable, "-c", HOST, str(root / "log"), str(root / "state"), str(plan_file), end, *flags]
    done = subprocess.run(argv, cwd=tree, env={**env, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == (-signal.SIGKILL if end == "kill" else 0), done.stderr[-3000:]
    return done.stderr


def outages(root: Path) -> list[tuple[str, str, int, float]]:
    """(site, state, minute told, value) of each site_unreachable the host wrote."""
    return [(a["site_id"], a["state"], (a["event_time_ms"] // 1000 - START) // 60, a["value"])
            for a in iter_jsonl(root / "state" / ALARMS) if a["rule"] == RULE]


SOUTH_LAST = START + SOUTH_SILENT_FROM * 60 - STEP_S  # south's last event before its outage


@pytest.mark.parametrize("back", [18, 30], ids=["back within 5 minutes of the restart", "silent long after it"])
def test_killed_during_an_outage_the_site_is_told_once_and_cleared_once(tmp_path: Path, back: int) -> None:
    """Killed at minute 16, one minute after south was reported; started again at 17. South returning at
    18 gets its OK (before the fix: none, the page kept it open); silent until 30, it is not reported a
    second time (before the fix: a second ALARM at 22)."""
    host(REPO, tmp_path, plan(0, 16), "kill")
    _, sites = read_state(tmp_path / "state")
    assert sites["south"]["reachability"]["unreachable_since_s"] == SOUTH_LAST
    assert outages(tmp_path) == [("south", "ALARM", 14, 5.0)]
    host(REPO, tmp_path, plan(17, back + 1, south_back=back), "stop")
    told = outages(tmp_path)
    assert [(site, state) for site, state, _, _ in told] == [("south", "ALARM"), ("south", "OK")]
    assert told[1][2] == back and told[1][3] == round((START + back * 60 - SOUTH_LAST) / 60, 2)


def test_a_site_silent_before_the_restart_counts_from_its_last_event(tmp_path: Path) -> None:
    """Killed at minute 12 (south silent since 10, not yet reported), started again at 13: south is
    reported at 15, five minutes after its last event, not five minutes after the restart."""
    host(REPO, tmp_path, plan(0, 12), "kill")
    assert outages(tmp_path) == []
    host(REPO, tmp_path, plan(13, 21, south_back=21), "stop")
    assert [(s, state, minute) for s, state, minute, _ in outages(tmp_path)] == [
        ("south", "ALARM", 14), ("south", "OK", 21)]


def test_a_host_down_longer_than_the_outage_time_reads_its_backlog_before_it_judges_a_silence(
        tmp_path: Path) -> None:
    """Killed at 2:30 and down until 12:30 while the sites send on (into the log): the restarted host reads
    20 records a poll, and east (one event every two minutes, none in the first poll) has been silent for
    ten minutes by its last event before the kill. Nothing is reported: the host was down, not east."""
    host(REPO, tmp_path, plan(0, 2.5, sparse="east"), "kill", "--batch-size", "20")
    with LocalLog(tmp_path / "log") as writer:
        writer.append([line.encode() for _, lines in plan(2.5 + STEP_S / 60, 12.5 - STEP_S / 60, sparse="east")
                       for line in lines])
    host(REPO, tmp_path, plan(12.5, 16, sparse="east"), "stop", "--batch-size", "20")
    assert outages(tmp_path) == []
    _, sites = read_state(tmp_path / "state")
    assert sites["east"]["counters"]["events"] == len(range(0, 16 * 60 + 1, 120))


def test_the_consumer_stores_its_state_when_it_reports_an_outage_whatever_its_commit_interval(
        aws_client: Callable[[str], Any], unique: str, tmp_path: Path) -> None:
    """The consumer's state on S3 (moto) is stored every 30 s; it is killed right after reporting south (at
    14:55, before the next periodic store) and started again at 15:00: what it sent (an SNS topic, not cut
    back) holds one ALARM and, when south returns at 18, one OK."""
    s3 = aws_client("s3")
    make_bucket(s3, f"outage-{unique}")
    config = HostConfig(unreachable_minutes=5, commit_every_s=30.0)  # `stream run`'s default on S3 state
    sent = MemoryOutputs()
    now = [float(START)]
    writer = LocalLog(tmp_path / "log")
    for steps, kill in ((plan(0, 14.99), True), (plan(15, 19, south_back=18), False)):
        consumer = Host(LocalLogSource(LocalLog(tmp_path / "log"), "log"), S3StateStore(s3, f"s3://outage-{unique}/c"),
                        sent, config, clock=lambda: now[0])
        for at, lines in steps:
            now[0] = at
            writer.append([line.encode() for line in lines])
            consumer.step()
        if not kill:
            consumer.commit()
        consumer.close()
    told = [(a["site_id"], a["state"], (a["event_time_ms"] // 1000 - START) // 60) for a in sent.alarms
            if a["rule"] == RULE]
    assert told == [("south", "ALARM", 14), ("south", "OK", 18)]


@pytest.fixture(scope="module")
def previous_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous version's source, as `git archive` gives it (its pure-Python decoder: no C build)."""
    return source_at(PREVIOUS, tmp_path_factory.mktemp("previous"))


def test_a_state_of_the_previous_version_loads_with_no_outage_memory_for_that_one_restart(
        previous_tree: Path, tmp_path: Path) -> None:
    """The previous host reports south and is killed; this host loads its version 2 state, says it has no
    outage memory and, as the previous host did, reports south again five minutes after the restart. Killed
    again and restarted, it is on version 3: south's return is cleared once."""
    host(previous_tree, tmp_path, plan(0, 16), "kill")
    _, sites = read_state(tmp_path / "state")
    assert sites["south"]["version"] == 2 and "reachability" not in sites["south"]
    said = host(REPO, tmp_path, plan(17, 23), "kill")
    assert "(site south): the site state (version 2) kept no outage memory" in said
    _, sites = read_state(tmp_path / "state")
    assert {doc["version"] for doc in sites.values()} == {SITE_STATE_VERSION}
    host(REPO, tmp_path, plan(24, 26, south_back=25), "stop")
    assert [(s, state, minute) for s, state, minute, _ in outages(tmp_path)] == [
        ("south", "ALARM", 14), ("south", "ALARM", 22), ("south", "OK", 25)]


def _wait_for(what: str, check: Any, process: subprocess.Popen[str], limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if process.poll() is not None:
            raise AssertionError(f"stream run exited ({process.returncode}) before {what}: {process.stderr}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {limit_s:.0f} s")
        time.sleep(0.2)


def test_stream_run_killed_with_sigkill_during_an_outage_sends_the_one_ok(tmp_path: Path) -> None:
    """The real `moodlens stream run` on the wall clock (site_unreachable after 3 s), killed with -9 once
    it has reported the site, started again, and the site sends: exactly one ALARM and one OK."""
    log, state = tmp_path / "log", tmp_path / "state"
    with LocalLog(log) as writer:
        writer.append([dumps(face(int(time.time() * 1000), "t", site="west", n=i)) for i in range(3)])
    argv = [sys.executable, "-m", "moodlens.cli", "stream", "run", "--log", str(log), "--state", str(state),
            "--unreachable-minutes", "0.05", "--poll-s", "0.1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def reported() -> bool:
        _, sites = read_state(state)
        return bool(sites) and sites["west"]["reachability"]["unreachable_since_s"] is not None

    first = subprocess.Popen(argv, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for("site_unreachable saved with the site", reported, first)
    finally:
        first.kill()
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    second = subprocess.Popen(argv, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        with LocalLog(log) as writer:
            writer.append([dumps(face(int(time.time() * 1000), "t2", site="west", n=9))])
        _wait_for("OK", lambda: any(a["state"] == "OK" for a in iter_jsonl(state / ALARMS)), second)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
    assert [(a["site_id"], a["state"]) for a in iter_jsonl(state / ALARMS) if a["rule"] == RULE] == [
        ("west", "ALARM"), ("west", "OK")]


@pytest.mark.parametrize("back", [18, 30], ids=["back within 5 minutes", "silent long after"])
def test_a_kcl_worker_restarted_during_an_outage_clears_it_once(
        store: Callable[[], S3SiteStates], back: int) -> None:  # noqa: F811 (the fixture imported above)
    """KCL mode (site objects in moto's S3): the worker that reported south dies at minute 16; another takes
    the shard over at 17. South's object says it was told: no second ALARM, and its return gets the OK.
    (A worker loads a site when a record of it comes: a site silent across a worker's restart is watched
    again only once it sends.)"""
    daemon = StandIn()
    now = [float(START)]
    config = HostConfig(check_time=False, unreachable_minutes=5)
    outputs = [MemoryOutputs(), MemoryOutputs()]
    workers = [SiteRecordProcessor(store(), out, config, records=DaemonRecords(), clock=lambda: now[0],
                                   log=lambda line: None) for out in outputs]
    for worker, steps in zip(workers, (plan(0, 16), plan(17, back + 1, south_back=back)), strict=True):
        daemon.start("shard-0", worker)  # the second takes the lease over; the first is gone
        for at, lines in steps:
            now[0] = at
            daemon.put("shard-0", [(json.loads(line)["site_id"], line.encode()) for line in lines])
            daemon.deliver("shard-0", worker, batch=100)
    told = [(a["site_id"], a["state"], (a["event_time_ms"] // 1000 - START) // 60)
            for out in outputs for a in out.alarms if a["rule"] == RULE]
    assert told == [("south", "ALARM", 14), ("south", "OK", back)]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kills=st.dictionaries(st.integers(1, 4000), st.integers(0, 12 * 60 // STEP_S), min_size=1, max_size=3))
@example(kills={1802: 37, 1987: 144})  # down from minute 18 to the sites' end: the backlog read after it
@example(kills={1792: 38, 1996: 144, 2002: 144})  # and killed again while reading it
def test_killed_anywhere_for_any_while_alarm_and_ok_alternate(
        tmp_path_factory: pytest.TempPathFactory, kills: dict[int, int]) -> None:
    """Property: the host killed at any write of its commits (counted over the run) and down for up to 12
    minutes each time while the sites go on sending (a backlog, read 20 records a poll): per site ALARM and OK
    alternate, one pair at most for south's one outage (minutes 10 to 20), exactly one when the host was up
    all through it, and none for north, whose events only waited in the backlog."""
    root = tmp_path_factory.mktemp("kills")
    args = build_parser().parse_args(["stream", "run", "--log", str(root / "log"), "--state", str(root / "state")])
    config = dataclasses.replace(host_config(args), batch_size=20)
    now = [float(START)]
    fault = CrashAt(kills)

    def start() -> EmbeddedRunner:
        return EmbeddedRunner(LocalLog(root / "log"), root / "state", config, clock=lambda: now[0], fault=fault)

    writer = LocalLog(root / "log")
    runner: EmbeddedRunner | None = start()
    down_steps, downs = 0, list[list[float]]()  # the host's down times (s)
    for at, lines in plan(0, 30, south_back=20):
        now[0] = at
        writer.append([line.encode() for line in lines])
        if runner is None:
            if down_steps:
                down_steps -= 1
                continue
            runner = start()
            downs[-1][1] = at
        try:
            runner.step()
        except SimulatedCrashError:
            runner.close()  # no commit: what a kill leaves
            runner, down_steps = None, kills[fault.calls]
            downs.append([at, at])
    while True:  # the sites have stopped: the host (started once more if down) reads what waited
        if runner is None:
            runner = start()
            downs[-1][1] = now[0]
        try:
            runner.drain()
            break
        except SimulatedCrashError:  # a kill point may fall in the backlog too
            runner.close()
            runner = None
            downs.append([now[0], now[0]])
    runner.close()
    told = outages(root)
    assert [s for s in told if s[0] == "north"] == []
    south = [state for site, state, _, _ in told if site == "south"]
    assert south in ([], ["ALARM", "OK"])
    if all(end < START + SOUTH_SILENT_FROM * 60 or begin > START + 20 * 60 for begin, end in downs):
        assert south == ["ALARM", "OK"]
