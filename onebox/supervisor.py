"""Runs the box's children (edges, stream runner, scheduled jobs), restarts the ones that crash.

Pure logic: time comes from a `Clock` and processes from a `Spawner`, so tests drive it with a fake
clock or with real subprocesses (`onebox.processes.SubprocessSpawner`). `tick()` is one look at
every child: what exited is recorded, a crash is scheduled for restart after an exponential
backoff, and what is due is started. `stop()` signals every child, in stop order (edges first, so
their spools drain into the log before the stream runner reads it to the end and checkpoints),
waits up to a grace period each, and kills what is left.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Restart = Literal["always", "on-failure", "never"]
State = Literal["starting", "running", "backoff", "exited", "failed", "stopped"]


class Process(Protocol):
    pid: int

    def poll(self) -> int | None: ...
    def send_signal(self, signum: int) -> None: ...
    def kill(self) -> None: ...


class Spawner(Protocol):
    def spawn(self, spec: ChildSpec) -> Process: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    restart: Restart = "always"
    stop_signal: int = signal.SIGTERM
    stop_order: int = 0  # lower stops first
    kind: str = "service"  # edge, stream, job: shown on the dashboard
    give_up_on: tuple[int, ...] = ()  # exit codes that mean "wrong configuration": not restarted


@dataclass(frozen=True)
class Backoff:
    """Delay before restart n (1-based) of a child crashing in a row: initial·factor^(n-1), at most cap.

    A child that ran `reset_after_s` before crashing starts again from `initial`: one crash a day is
    not a crash loop.
    """

    initial_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 60.0
    reset_after_s: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        return float(min(self.cap_s, self.initial_s * self.factor ** max(0, crashes_in_a_row - 1)))


@dataclass
class ChildStatus:
    name: str
    kind: str
    state: State = "starting"
    pid: int | None = None
    restarts: int = 0
    crashes_in_a_row: int = 0
    last_exit: int | None = None
    started_at: float | None = None
    restart_at: float | None = None
    reason: str | None = None  # the child's last error line, when it said one

    def to_json(self, now: float) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "state": self.state, "pid": self.pid,
                "restarts": self.restarts, "last_exit": self.last_exit, "reason": self.reason,
                "uptime_s": round(now - self.started_at, 1) if self.started_at and self.state == "running" else None,
                "restart_in_s": round(max(0.0, self.restart_at - now), 1) if self.restart_at is not None else None}


class Supervisor:
    def __init__(self, spawner: Spawner, clock: Clock, backoff: Backoff | None = None,
                 on_event: Callable[[str, ChildStatus], None] | None = None) -> None:
        self.spawner, self.clock = spawner, clock
        self.backoff = backoff or Backoff()
        self.on_event = on_event or (lambda what, child: None)
        self.specs: dict[str, ChildSpec] = {}
        self.status: dict[str, ChildStatus] = {}
        self._procs: dict[str, Process] = {}
        self.stopping = False

    def add(self, spec: ChildSpec, start: bool = True) -> None:
        """Registers a child; started now unless `start` is false (a job: `run_job` starts it)."""
        if spec.name in self.specs and self.running(spec.name):
            raise ValueError(f"child {spec.name!r} is still running")
        self.specs[spec.name] = spec
        previous = self.status.get(spec.name)
        self.status[spec.name] = ChildStatus(spec.name, spec.kind, restarts=previous.restarts if previous else 0)
        if start:
            self._start(spec.name)

    def running(self, name: str) -> bool:
        return name in self._procs

    def run_job(self, spec: ChildSpec) -> bool:
        """Starts a one-shot job unless its previous run is still going; returns whether it started."""
        if self.running(spec.name):
            return False
        self.add(spec)
        return True

    def tick(self) -> None:
        now = self.clock.monotonic()
        for name, proc in list(self._procs.items()):
            code = proc.poll()
            if code is not None:
                self._exited(name, code, now)
        if self.stopping:
            return
        for name, child in self.status.items():
            if child.state == "backoff" and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(name)

    def stop(self, grace_s: float = 10.0, poll_s: float = 0.05) -> None:
        """Signals children in stop order, waits for each group up to `grace_s`, kills what is left."""
        self.stopping = True
        for order in sorted({self.specs[n].stop_order for n in self._procs}):
            group = [n for n in self._procs if self.specs[n].stop_order == order]
            for name in group:
                self.status[name].state = "stopped"
                self._signal(name, self.specs[name].stop_signal)
            deadline = self.clock.monotonic() + grace_s
            while any(n in self._procs for n in group) and self.clock.monotonic() < deadline:
                self.clock.sleep(poll_s)
                self.tick()
            for name in group:
                if name not in self._procs:  # ended while another of its group was being killed
                    continue
                self.on_event("killed", self.status[name])
                self._procs[name].kill()
                self.clock.sleep(poll_s)
                self.tick()
        for child in self.status.values():
            child.restart_at = None
            if child.state == "backoff":
                child.state = "stopped"

    def snapshot(self) -> list[dict[str, object]]:
        now = self.clock.monotonic()
        return [child.to_json(now) for child in self.status.values()]

    def _start(self, name: str) -> None:
        child = self.status[name]
        try:
            proc = self.spawner.spawn(self.specs[name])
        except OSError as error:  # the program is missing: same as a crash, retried with backoff
            child.last_exit = -1
            self._schedule_restart(name, self.clock.monotonic())
            self.on_event(f"spawn failed: {error}", child)
            return
        self._procs[name] = proc
        child.state, child.pid = "running", proc.pid
        child.started_at, child.restart_at = self.clock.monotonic(), None
        self.on_event("started", child)

    def _exited(self, name: str, code: int, now: float) -> None:
        del self._procs[name]
        child, spec = self.status[name], self.specs[name]
        child.last_exit, child.pid = code, None
        if self.stopping or child.state == "stopped":
            child.state = "stopped"
            self.on_event("stopped", child)
            return
        if code == 0 and spec.restart != "always":
            child.state, child.crashes_in_a_row = "exited", 0
            self.on_event("exited", child)
            return
        if spec.restart == "never" or (code and code in spec.give_up_on):
            child.state = "failed"
            self.on_event("failed", child)
            return
        if child.started_at is not None and now - child.started_at >= self.backoff.reset_after_s:
            child.crashes_in_a_row = 0
        self._schedule_restart(name, now)  # first: the event tells when the restart comes
        self.on_event("crashed" if code else "exited", child)

    def _schedule_restart(self, name: str, now: float) -> None:
        child = self.status[name]
        child.crashes_in_a_row += 1
        child.state = "backoff"
        child.restart_at = now + self.backoff.delay(child.crashes_in_a_row)

    def _signal(self, name: str, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._procs[name].send_signal(signum)
