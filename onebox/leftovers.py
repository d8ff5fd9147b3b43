"""Children an earlier `moodlens up` left running, found by the pid file it kept, and stopped.

Children die with their supervisor (`onebox.processes` asks the kernel for a parent-death signal),
but one that is slow to drain, or one started on a kernel without that signal, may outlive a
`kill -9` of `up`. Before starting its own, a new `up` reads `run/children.json`: each entry is a pid
with the process start time the kernel gave it, so a pid since reused by an unrelated process is
never signalled. What still runs gets its stop signal (edges drain their spools, the stream runner
checkpoints), then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from locallog.files import write_atomically

log = logging.getLogger("moodlens.up")


@dataclass(frozen=True)
class Recorded:
    name: str
    pid: int
    started: int  # clock ticks after boot (/proc/<pid>/stat, field 22): a pid is reused, this pair is not
    stop_signal: int


def _stat(pid: int) -> tuple[int, int] | None:
    """The start time (clock ticks after boot) and parent pid of a live process, None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) ": state is field 3, ppid field 4
    if len(fields) < 20 or fields[0] in ("Z", "X"):  # a zombie has stopped; its parent has not reaped it yet
        return None
    return int(fields[19]), int(fields[1])


def start_time(pid: int) -> int | None:
    """When the process `pid` started (clock ticks after boot), None when there is no such process."""
    stat = _stat(pid) if pid > 1 else None
    return stat[0] if stat else None


def record(path: Path, children: Iterable[tuple[str, int, int]]) -> None:
    """Writes the running children (name, pid, stop signal) with their start times, atomically.

    Only this process's own children are written: a pid that is not one is never signalled later."""
    me = os.getpid()
    entries = [asdict(Recorded(name, pid, stat[0], signum)) for name, pid, signum in children
               if pid > 1 and (stat := _stat(pid)) is not None and stat[1] == me]
    document = {"supervisor": {"pid": os.getpid(), "started": start_time(os.getpid())}, "children": entries}
    write_atomically(path, json.dumps(document, indent=1).encode())


def alive(path: Path) -> tuple[int | None, list[Recorded]]:
    """The earlier supervisor's pid and those of its recorded children still running (same start time)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        supervisor = int(document["supervisor"]["pid"])
        entries = [Recorded(**entry) for entry in document["children"]]
    except FileNotFoundError:
        return None, []
    except (ValueError, KeyError, TypeError) as error:
        log.warning("%s: unreadable (%s); assuming no earlier children are running", path, error)
        return None, []
    return supervisor, [e for e in entries if e.pid != os.getpid() and start_time(e.pid) == e.started]


def stop_leftovers(path: Path, grace_s: float = 20.0, poll_s: float = 0.05) -> list[Recorded]:
    """Stops what an earlier supervisor left running (stop signal, then SIGKILL); returns what it found."""
    supervisor, found = alive(path)
    if not found:
        return []
    log.warning("an earlier `moodlens up` (pid %s) left %d children running: %s; stopping them before starting "
                "new ones", supervisor, len(found), ", ".join(f"{e.name} (pid {e.pid})" for e in found),
                extra={"event": "leftovers", "pids": [e.pid for e in found]})
    for entry in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry.pid, entry.stop_signal)
    deadline = time.monotonic() + grace_s
    while (running := [e for e in found if start_time(e.pid) == e.started]) and time.monotonic() < deadline:
        time.sleep(poll_s)
    for entry in running:
        log.error("%s (pid %d) did not stop within %.0f s: killed", entry.name, entry.pid, grace_s,
                  extra={"event": "leftover killed", "pid": entry.pid})
        with contextlib.suppress(ProcessLookupError):
            os.killpg(entry.pid, signal.SIGKILL)  # its own session: what it started goes too
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while any(start_time(e.pid) == e.started for e in running) and time.monotonic() < deadline:
        time.sleep(poll_s)
    return found
