"""The supervisor restarts crashed children with backoff and stops them in order, with real processes."""

from __future__ import annotations

import itertools
import signal
import sys
import time
from pathlib import Path

from onebox.processes import RealClock, SubprocessSpawner
from onebox.supervisor import Backoff, ChildSpec, Supervisor


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid, self.code, self.signals = pid, None, []

    def poll(self) -> int | None:
        return self.code

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)
        self.code = 0

    def kill(self) -> None:
        self.code = -9


class FakeSpawner:
    def __init__(self) -> None:
        self.spawned: list[FakeProcess] = []

    def spawn(self, spec: ChildSpec) -> FakeProcess:
        self.spawned.append(FakeProcess(len(self.spawned) + 1))
        return self.spawned[-1]


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_long_run() -> None:
    clock, spawner = FakeClock(), FakeSpawner()
    sup = Supervisor(spawner, clock, Backoff(initial_s=1, factor=2, cap_s=5, reset_after_s=30))
    sup.add(ChildSpec("edge-a", ("x",)))
    delays = []
    for _ in range(5):
        spawner.spawned[-1].code = 1
        sup.tick()
        child = sup.status["edge-a"]
        assert child.state == "backoff" and child.restart_at is not None
        delays.append(child.restart_at - clock.now)
        clock.now = child.restart_at
        sup.tick()
        assert sup.status["edge-a"].state == "running"
    assert delays == [1, 2, 4, 5, 5]
    clock.now += 31  # ran long enough: the next crash is a first crash again
    spawner.spawned[-1].code = 1
    sup.tick()
    assert sup.status["edge-a"].restart_at == clock.now + 1
    assert sup.status["edge-a"].restarts == 5


def test_a_job_that_succeeds_is_not_restarted_and_one_that_fails_is_reported() -> None:
    clock, spawner = FakeClock(), FakeSpawner()
    sup = Supervisor(spawner, clock)
    assert sup.run_job(ChildSpec("compact", ("x",), restart="never", kind="job"))
    assert not sup.run_job(ChildSpec("compact", ("x",), restart="never", kind="job"))  # still running
    spawner.spawned[-1].code = 0
    sup.tick()
    assert sup.status["compact"].state == "exited"
    assert sup.run_job(ChildSpec("compact", ("x",), restart="never", kind="job"))
    spawner.spawned[-1].code = 3
    sup.tick()
    clock.now += 100
    sup.tick()
    assert sup.status["compact"].state == "failed" and sup.status["compact"].last_exit == 3
    assert len(spawner.spawned) == 2


def _script(tmp_path: Path, name: str, body: str) -> tuple[str, ...]:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return (sys.executable, str(path))


def _wait(predicate, sup: Supervisor, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, sup.snapshot()
        sup.tick()
        time.sleep(0.02)


def test_a_crashing_process_is_restarted_with_growing_delays(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    argv = _script(tmp_path, "crash", f"import time\nopen({str(starts)!r}, 'a').write(f'{{time.monotonic()}}\\n')\n"
                   "raise SystemExit(7)\n")
    events: list[tuple[str, int | None]] = []
    sup = Supervisor(SubprocessSpawner(), RealClock(), Backoff(initial_s=0.2, factor=2, cap_s=2),
                     on_event=lambda what, child: events.append((what, child.last_exit)))
    sup.add(ChildSpec("crasher", argv))
    _wait(lambda: starts.exists() and len(starts.read_text().split()) >= 4, sup, timeout=20)
    sup.stop(grace_s=2)
    times = [float(t) for t in starts.read_text().split()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8  # each wait at least the backoff
    assert gaps[2] > gaps[0]
    crashes = [code for what, code in events if what == "crashed"]
    assert len(crashes) >= 3 and set(crashes) == {7} and sup.status["crasher"].restarts >= 3


def test_stop_drains_children_in_order_and_kills_one_that_ignores_the_signal(tmp_path: Path) -> None:
    order = tmp_path / "order"
    drain = ("import signal, sys, time\n"
             "def stop(*_):\n"
             f"    time.sleep(0.2); open({str(order)!r}, 'a').write(sys.argv[1] + '\\n'); sys.exit(0)\n"
             "signal.signal(signal.SIGINT, stop); signal.signal(signal.SIGTERM, stop)\n"
             f"open({str(tmp_path)!r} + '/' + sys.argv[1] + '.ready', 'w').close()\n"
             "while True: time.sleep(0.05)\n")
    argv = _script(tmp_path, "drain", drain)
    stubborn = _script(tmp_path, "stubborn", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                       f"open({str(tmp_path / 'stubborn.ready')!r}, 'w').close()\n"
                       "while True: time.sleep(0.05)\n")
    sup = Supervisor(SubprocessSpawner(), RealClock())
    sup.add(ChildSpec("stream", (*argv, "stream"), stop_order=1))
    sup.add(ChildSpec("edge-1", (*argv, "edge-1"), stop_signal=signal.SIGINT, stop_order=0))
    sup.add(ChildSpec("stubborn", stubborn, stop_order=2))
    deadline = time.monotonic() + 20  # let the children install their handlers
    while not all((tmp_path / f"{n}.ready").exists() for n in ("stream", "edge-1", "stubborn")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    sup.stop(grace_s=1.0)
    assert order.read_text().split() == ["edge-1", "stream"]  # the edge drained before the stream runner
    assert sup.status["stubborn"].last_exit == -signal.SIGKILL
    assert all(c["state"] == "stopped" for c in sup.snapshot())
    assert time.monotonic() - started < 5


class SlowToStop(FakeProcess):
    """Ignores its stop signal; ends (on its own) while another child of its group is being killed."""

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)


def test_two_children_of_one_group_past_the_grace_are_both_ended_when_one_dies_meanwhile() -> None:
    clock = FakeClock()
    slow = [SlowToStop(1), SlowToStop(2)]

    class Spawner:
        def spawn(self, spec: ChildSpec) -> FakeProcess:
            return slow[int(spec.name[-1]) - 1]

    sup = Supervisor(Spawner(), clock)
    sup.add(ChildSpec("job-1", ("x",), restart="never", stop_order=2))
    sup.add(ChildSpec("job-2", ("x",), restart="never", stop_order=2))
    original_kill = slow[0].kill

    def kill_first_and_the_second_ends_too() -> None:
        original_kill()
        slow[1].code = -15

    slow[0].kill = kill_first_and_the_second_ends_too  # type: ignore[method-assign]
    sup.stop(grace_s=1.0)
    assert {name: child.state for name, child in sup.status.items()} == {"job-1": "stopped", "job-2": "stopped"}
    assert not any(sup.running(name) for name in sup.status)
