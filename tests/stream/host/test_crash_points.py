"""A crash between every pair of writes of the ordered commit, in every wiring with a committed host
state (the embedded runner: a local folder; the consumer: S3 state and ``--out`` files, on a moto
server), then a restart: the counters and the output files equal an uninterrupted run's, byte for
byte. The crash points are not listed by hand: an uninterrupted run records every point its commit
passes (each output file written, each one fsync'd, the state written), and each is then crashed at."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locallog import LocalLog
from stream.embedded import OUTPUTS, EmbeddedRunner
from stream.host.loop import Host
from stream.sinks.files import FileOutputs
from stream.sources.locallog import LocalLogSource
from stream.state.s3 import S3StateStore
from tests.stream.state.test_s3 import make_bucket
from tests.stream.test_embedded import CONFIG, CrashAt, SimulatedCrashError, records

Fault = Callable[[str], None]
Wiring = Callable[[Path, Fault], Host]


def _ignore(point: str) -> None:
    return None


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("log")
    log = LocalLog(folder)
    log.append(records(seed=11, minutes=30))  # faces, duplicates, late events, dead letters, alarms
    log.close()
    return folder


@pytest.fixture
def wirings(aws_client: Callable[[str], Any], unique: str, log_dir: Path) -> dict[str, Wiring]:
    s3 = aws_client("s3")
    make_bucket(s3, f"crash-{unique}")

    def embedded(root: Path, fault: Fault) -> Host:
        return EmbeddedRunner(LocalLog(log_dir), root, CONFIG, source="log", fault=fault)

    def consumer(root: Path, fault: Fault) -> Host:
        return Host(LocalLogSource(LocalLog(log_dir), "log"),
                    S3StateStore(s3, f"s3://crash-{unique}/{root.parent.name}/{root.name}", fault=fault),
                    FileOutputs(root, fault=fault), CONFIG, fault=fault)

    return {"embedded": embedded, "s3 state": consumer}


@contextmanager
def running(wiring: Wiring, root: Path, fault: Fault = _ignore) -> Iterator[Host]:
    host = wiring(root, fault)
    try:
        yield host
    finally:
        host.close()


def run_to_end(wiring: Wiring, root: Path, fault: Fault = _ignore) -> dict[str, int]:
    with running(wiring, root, fault) as host:
        host.drain(flush=True)
        return host.counters


def outputs(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in OUTPUTS}


@pytest.mark.parametrize("name", ["embedded", "s3 state"])
def test_a_crash_between_any_two_writes_of_a_commit_leaves_counters_and_outputs_exact(
        wirings: dict[str, Wiring], tmp_path: Path, name: str) -> None:
    wiring = wirings[name]
    passed: list[str] = []
    clean = run_to_end(wiring, tmp_path / "clean", passed.append)
    assert clean["windows"] and clean["alarms"] and clean["late"] and clean["dead_letters"]
    expected = outputs(tmp_path / "clean")
    points = sorted(set(passed), key=passed.index)  # in the order a commit passes them
    assert {"before-write", "torn-write", "synced-deadletter.jsonl", "before-checkpoint"} <= set(points)
    assert {"before-put", "after-put"} <= set(points) or "before-replace" in points
    wrong, tried = [], 0
    for point in points:
        for occurrence in sorted({1, min(3, passed.count(point))}):  # the first commit; one with state before it
            tried += 1
            root = tmp_path / f"{point}-{occurrence}"
            seen = 0

            def crash(at: str, point: str = point, occurrence: int = occurrence) -> None:
                nonlocal seen
                seen += at == point
                if at == point and seen == occurrence:
                    raise SimulatedCrashError(at)

            with pytest.raises(SimulatedCrashError), running(wiring, root, crash) as host:
                host.drain(flush=True)
            counters = run_to_end(wiring, root)  # a new process: state and outputs as the crash left them
            if counters != clean or outputs(root) != expected:
                wrong.append((point, occurrence, counters))
    assert wrong == []
    print(f"{name}: {tried} crashes tested at {len(points)} points of the commit, "
          f"{len(wrong)} with wrong counters or outputs")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(crashes=st.lists(st.integers(1, 400), min_size=1, max_size=4), batch_size=st.integers(5, 200),
       wiring_name=st.sampled_from(["embedded", "s3 state"]))
def test_any_crashes_at_any_fault_calls_and_any_batch_size_leave_the_counters_exact(
        wirings: dict[str, Wiring], tmp_path_factory: pytest.TempPathFactory, crashes: list[int], batch_size: int,
        wiring_name: str) -> None:
    """Property: killed at any fault calls (counted over the whole run, across restarts), with any
    batch size, the counters and files after a last run to the end equal an uninterrupted run's."""
    root = tmp_path_factory.mktemp("any")
    config = dataclasses.replace(CONFIG, batch_size=batch_size)

    def wiring(folder: Path, fault: Fault) -> Host:
        host = wirings[wiring_name](folder, fault)
        host.config = config
        return host

    clean = run_to_end(wiring, root / "clean")
    assert clean["windows"] and clean["records"] == len(records(seed=11, minutes=30))
    crash = CrashAt(crashes)
    for _ in crashes:
        with suppress(SimulatedCrashError):
            run_to_end(wiring, root / "crashed", crash)
    assert run_to_end(wiring, root / "crashed") == clean
    assert outputs(root / "crashed") == outputs(root / "clean")
