"""The embedded runner: checkpoints, crash-restart exactness, dead letters."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from locallog import LocalLog
from schemas.validation import validate_event
from stream.alarms import AlarmConfig
from stream.embedded import ALARMS, CHECKPOINT, DEAD_LETTERS, LATE, OUTPUTS, WINDOWS, EmbeddedRunner, RunnerConfig
from stream.engine import MINUTE_MS, EngineConfig
from stream.jsonl import dumps, iter_jsonl
from tests.stream.helpers import T0, beat, face

REPO = Path(__file__).resolve().parents[2]
CONFIG = RunnerConfig(
    engine=EngineConfig(window_minutes=(1, 5), allowed_lateness_ms=60_000, min_tracks=2),
    # low_sentiment by the absolute level: a 40-minute run has learnt nothing of its site (`stream.usual`)
    alarms=AlarmConfig(window_minutes=5, min_tracks=2, raise_m=2, raise_n=3, clear_m=2, silent_minutes=3,
                       baseline_min_days=1, low_against_usual=False),
    batch_size=37, check_time=False)


class SimulatedCrashError(Exception):
    pass


class CrashAt:
    """A host's fault hook that crashes it at the given calls, counted over the whole run (across restarts):
    ``calls`` is how many there were so far."""

    def __init__(self, at: Collection[int]) -> None:
        self.at, self.calls = at, 0

    def __call__(self, point: str) -> None:
        self.calls += 1
        if self.calls in self.at:
            raise SimulatedCrashError(point)


def killed_and_restarted(log_dir: Path, state_dir: Path, config: RunnerConfig, fault: Callable[[str], None],
                         output: str) -> bytes:
    """The runner on ``log_dir`` drained to the end, started again after each crash ``fault`` makes (what
    kill -9 leaves: the files as written, the lock let go); returns the ``output`` file it wrote."""
    while True:
        try:
            runner = EmbeddedRunner(LocalLog(log_dir), state_dir, config, fault=fault)
        except SimulatedCrashError:
            continue
        try:
            runner.drain(flush=True)
        except SimulatedCrashError:
            runner.close()
            continue
        runner.close()
        return (state_dir / output).read_bytes()


def records(seed: int = 7, minutes: int = 40) -> list[bytes]:
    """Two cameras, turning sour after 15 minutes; cam-b goes silent; duplicates, late and bad records."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for second in range(0, minutes * 60, 5):
        t = T0 + second * 1_000
        sour = 15 * 60 <= second < 28 * 60
        for camera in ("cam-a", "cam-b"):
            if camera == "cam-b" and 20 * 60 <= second < 30 * 60:
                continue  # cam-b is off: no faces, no heartbeats
            track = f"{camera}-{second // 90}-{rng.randrange(4)}"
            top = rng.choice(["sad", "angry", "neutral"] if sour else ["happy", "happy", "neutral"])
            event = face(t + rng.randrange(1_000), track, camera=camera, top=top, usable=rng.random() > 0.1,
                         n=second)
            out.append(dumps(event))
            if rng.random() < 0.05:
                out.append(dumps(event))  # delivered twice
            if second % 30 == 0:
                out.append(dumps(beat(t, camera)))
        if second % 300 == 0:
            out.append(dumps(face(t - 5 * MINUTE_MS, "straggler", n=second)))  # late
            out.append(b'{"schema": "face_expression", "schema_version": "2.0"}')
            out.append(b"{not json")
    return out


def feed_and_drain(log_dir: Path, state_dir: Path, data: list[bytes], chunk: int,
                   kill_after: list[int] | None = None) -> int:
    """Appends ``data`` in chunks, draining after each; crashes at the given fault counts and restarts."""
    log = LocalLog(log_dir)
    kills = list(kill_after or [])
    crashes = 0
    calls = 0

    def fault(point: str) -> None:
        nonlocal calls
        calls += 1
        if kills and calls >= kills[0]:
            kills.pop(0)
            raise SimulatedCrashError(point)

    runner = EmbeddedRunner(LocalLog(log_dir), state_dir, CONFIG, source="log", fault=fault)
    position = 0
    while True:
        try:
            runner.drain()
            if position >= len(data):
                runner.drain(flush=True)
                break
            log.append(data[position:position + chunk])
            position += chunk
        except SimulatedCrashError:
            crashes += 1
            runner.close()
            calls = 0
            runner = EmbeddedRunner(LocalLog(log_dir), state_dir, CONFIG, source="log", fault=fault)
    runner.close()
    log.close()
    return crashes


def outputs(state_dir: Path) -> dict[str, bytes]:
    return {name: (state_dir / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def data() -> list[bytes]:
    return records()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, data: list[bytes]) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("uninterrupted")
    feed_and_drain(root / "log", root / "state", data, chunk=250)
    return outputs(root / "state")


def test_uninterrupted_run_produces_windows_alarms_late_and_dead_letters(uninterrupted: dict[str, bytes]) -> None:
    windows = [json.loads(line) for line in uninterrupted[WINDOWS].splitlines()]
    alarms = [json.loads(line) for line in uninterrupted[ALARMS].splitlines()]
    assert windows and all(validate_event(w) == [] for w in windows)
    assert all(validate_event(a) == [] for a in alarms)
    assert len({w["event_id"] for w in windows}) == len(windows)
    fired = {(a["rule"], a["camera_id"], a["state"]) for a in alarms}
    assert ("low_sentiment", None, "ALARM") in fired and ("low_sentiment", None, "OK") in fired
    assert ("camera_silent", "cam-b", "ALARM") in fired and ("camera_silent", "cam-b", "OK") in fired
    assert uninterrupted[LATE].count(b"straggler") == 8
    letters = [json.loads(line) for line in uninterrupted[DEAD_LETTERS].splitlines()]
    assert len(letters) == 16
    assert {letter["reasons"][0]["path"] for letter in letters} == {"$", "schema_version"}
    assert all(letter["source"].startswith("log@") for letter in letters)


@pytest.mark.parametrize("seed", range(8))
def test_killed_at_random_points_and_restarted_it_writes_exactly_the_uninterrupted_output(
        tmp_path: Path, data: list[bytes], uninterrupted: dict[str, bytes], seed: int) -> None:
    rng = random.Random(seed)
    kills = [rng.randint(1, 25) for _ in range(6)]
    crashes = feed_and_drain(tmp_path / "log", tmp_path / "state", data, chunk=250, kill_after=kills)
    assert crashes == len(kills)
    assert outputs(tmp_path / "state") == uninterrupted


def test_batch_size_does_not_change_the_output(tmp_path: Path, data: list[bytes],
                                               uninterrupted: dict[str, bytes]) -> None:
    log = LocalLog(tmp_path / "log")
    log.append(data)
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state",
                            RunnerConfig(**{**CONFIG.__dict__, "batch_size": 1_000}), source="log")
    runner.drain(flush=True)
    runner.close()
    assert outputs(tmp_path / "state") == uninterrupted


def test_restart_truncates_an_uncommitted_tail_and_resumes_at_the_checkpoint(tmp_path: Path,
                                                                             data: list[bytes]) -> None:
    log = LocalLog(tmp_path / "log")
    log.append(data[:500])
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", CONFIG)
    runner.drain()
    runner.close()
    checkpoint = json.loads((tmp_path / "state" / CHECKPOINT).read_bytes())
    assert checkpoint["position"] == 500  # the host checkpoint names the source position "position"
    with (tmp_path / "state" / WINDOWS).open("ab") as handle:
        handle.write(b'{"half a window')
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", CONFIG)
    assert (tmp_path / "state" / WINDOWS).stat().st_size == checkpoint["outputs"][WINDOWS]
    assert runner.offset == 500 and runner.step() == 0
    runner.close()


def test_idle_advance_moves_event_time_on_when_the_log_is_quiet(tmp_path: Path) -> None:
    now = [T0 / 1000 + 30]
    log = LocalLog(tmp_path / "log")
    log.append([dumps(face(T0 + 1_000, "t1")), dumps(face(T0 + 2_000, "t2"))])
    config = RunnerConfig(engine=CONFIG.engine, alarms=CONFIG.alarms, check_time=False,
                          idle_advance_ms=60_000)
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", config, clock=lambda: now[0])
    runner.drain()
    assert list(iter_jsonl(tmp_path / "state" / WINDOWS)) == []
    now[0] += 200  # 200 s without input
    runner.step()
    windows = list(iter_jsonl(tmp_path / "state" / WINDOWS))
    assert [w["window_end_ms"] for w in windows][:1] == [T0 + MINUTE_MS]
    runner.close()


def test_time_checks_send_far_future_and_far_past_events_to_the_dead_letters(tmp_path: Path) -> None:
    now_s = T0 / 1000
    log = LocalLog(tmp_path / "log")
    log.append([dumps(face(T0 + 3_600_000, "future")), dumps(face(T0 - 30 * 86_400_000, "past")),
                dumps(face(T0, "fine"))])
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state",
                            RunnerConfig(engine=CONFIG.engine, alarms=CONFIG.alarms), clock=lambda: now_s)
    runner.drain()
    runner.close()
    letters = list(iter_jsonl(tmp_path / "state" / DEAD_LETTERS))
    assert [(letter["source"], letter["reasons"][0]["path"]) for letter in letters] == [
        ("locallog@0", "event_time_ms"), ("locallog@1", "event_time_ms")]
    assert "future" in letters[0]["reasons"][0]["reason"] and "past" in letters[1]["reasons"][0]["reason"]
    assert runner.counters["events"] == 1


def test_sigkill_of_a_real_process_then_restart_gives_the_uninterrupted_output(
        tmp_path: Path, data: list[bytes], uninterrupted: dict[str, bytes]) -> None:
    """A real process, killed with SIGKILL mid-run (after a random number of batches)."""
    log = LocalLog(tmp_path / "log")
    log.append(data)
    log.close()
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from locallog import LocalLog
        from stream.embedded import EmbeddedRunner
        from tests.stream.test_embedded import CONFIG
        kill_at = int(sys.argv[1])
        runner = EmbeddedRunner(LocalLog({str(tmp_path / "log")!r}), {str(tmp_path / "state")!r}, CONFIG,
                                source="log")
        for step in range(10**6):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            if runner.step() == 0:
                break
        runner.drain(flush=True)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(3)
    for kill_at in (rng.randint(1, 30), rng.randint(1, 30)):
        done = subprocess.run([sys.executable, "-c", script, str(kill_at)], env=env, check=False)
        assert done.returncode == -signal.SIGKILL
    assert subprocess.run([sys.executable, "-c", script, "-1"], env=env, check=False).returncode == 0
    assert outputs(tmp_path / "state") == uninterrupted



def test_event_time_is_per_site_a_busy_neighbour_in_the_log_changes_nothing_for_a_quiet_site(tmp_path: Path) -> None:
    from tests.stream.host.test_sites import busy_site, interleave, quiet_site

    def run(name: str, events: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
        log = LocalLog(tmp_path / name / "log")
        log.append([dumps(e) for e in events])
        log.close()
        runner = EmbeddedRunner(LocalLog(tmp_path / name / "log"), tmp_path / name / "state",
                                RunnerConfig(**{**CONFIG.__dict__, "batch_size": 400}))
        runner.drain(flush=True)
        runner.close()
        return {output: [d for d in iter_jsonl(tmp_path / name / "state" / output) if d["site_id"] == "quiet"]
                for output in (WINDOWS, ALARMS, LATE)}

    alone = run("alone", quiet_site())
    assert alone[WINDOWS] and alone[LATE]
    assert run("mixed", interleave(quiet_site(), busy_site(30 * MINUTE_MS), 4)) == alone


def test_the_state_folder_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Windows, alarms, late events and dead letters (raw records) are the box owner's: whatever the umask
    lets through, the host creates its state folder and every file in it for the owner alone."""
    old = os.umask(0o022)
    try:
        feed_and_drain(tmp_path / "log", tmp_path / "box" / "state", records(minutes=10), chunk=500)
    finally:
        os.umask(old)
    state = tmp_path / "box" / "state"
    made = {path.name: oct(path.stat().st_mode & 0o777) for path in state.iterdir() if path.is_file()}
    assert set(OUTPUTS) | {CHECKPOINT} <= set(made)
    assert made == dict.fromkeys(made, oct(0o600))
    assert oct(state.stat().st_mode & 0o777) == oct(0o700)
