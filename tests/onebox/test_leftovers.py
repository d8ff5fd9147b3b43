"""Children die with `moodlens up`, and a new `up` stops whatever an earlier one left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from onebox import leftovers

HOLD = "import signal, sys, time\n{setup}open(sys.argv[1], 'w').close()\nwhile True: time.sleep(0.05)\n"


def _wait(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    return leftovers.start_time(pid) is not None


def test_a_child_dies_with_its_supervisor_even_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    child = tmp_path / "child.py"
    child.write_text(HOLD.format(setup="signal.signal(signal.SIGINT, lambda *_: sys.exit(0))\n"))
    supervisor = tmp_path / "supervisor.py"
    supervisor.write_text(
        "import signal, sys, time\n"
        "from onebox.processes import SubprocessSpawner\n"
        "from onebox.supervisor import ChildSpec\n"
        f"spec = ChildSpec('edge-x', (sys.executable, {str(child)!r}, {str(tmp_path / 'ready')!r}),"
        " stop_signal=signal.SIGINT)\n"
        "proc = SubprocessSpawner().spawn(spec)\n"
        f"open({str(tmp_path / 'pid')!r}, 'w').write(str(proc.pid))\n"
        "time.sleep(600)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    up = subprocess.Popen([sys.executable, str(supervisor)], env=env)
    try:
        _wait((tmp_path / "ready").exists)
        pid = int((tmp_path / "pid").read_text())
        assert _alive(pid)
        up.kill()
        up.wait()
        _wait(lambda: not _alive(pid), timeout=10)  # the kernel sent its stop signal: no orphan
    finally:
        up.kill()


def test_a_new_supervisor_stops_the_recorded_children_still_running_and_nothing_else(tmp_path: Path) -> None:
    polite = tmp_path / "polite.py"
    polite.write_text(HOLD.format(setup=f"signal.signal(signal.SIGINT, lambda *_: (open({str(tmp_path / 'drained')!r},"
                                        " 'w').close(), sys.exit(0)))\n"))
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(HOLD.format(setup="signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"))
    bystander = subprocess.Popen([sys.executable, str(polite), str(tmp_path / "b.ready")], start_new_session=True)
    edge = subprocess.Popen([sys.executable, str(polite), str(tmp_path / "e.ready")], start_new_session=True)
    stream = subprocess.Popen([sys.executable, str(stubborn), str(tmp_path / "s.ready")], start_new_session=True)
    try:
        _wait(lambda: all((tmp_path / f"{n}.ready").exists() for n in "bes"))
        record = tmp_path / "run" / "children.json"
        leftovers.record(record, [("edge-door", edge.pid, signal.SIGINT), ("stream", stream.pid, signal.SIGTERM)])
        document = json.loads(record.read_text())
        assert [c["name"] for c in document["children"]] == ["edge-door", "stream"]
        # a recorded pid now held by another process (another start time) is not signalled
        document["children"].append({"name": "edge-old", "pid": bystander.pid, "started": 1, "stop_signal": 2})
        record.write_text(json.dumps(document))
        found = leftovers.stop_leftovers(record, grace_s=1.0)
        assert sorted(e.name for e in found) == ["edge-door", "stream"]
        assert edge.wait(timeout=10) == 0 and (tmp_path / "drained").exists()  # its stop signal first: it drained
        assert stream.wait(timeout=10) == -signal.SIGKILL  # ignored its stop signal: killed after the grace
        assert bystander.poll() is None
        assert leftovers.stop_leftovers(record) == []  # nothing left the second time
    finally:
        for proc in (bystander, edge, stream):
            proc.kill()
            proc.wait()


def test_only_the_supervisors_own_children_are_recorded(tmp_path: Path) -> None:
    record = tmp_path / "children.json"
    leftovers.record(record, [("init", 1, signal.SIGTERM), ("me", os.getpid(), signal.SIGTERM),
                              ("gone", 2**22 + 7, signal.SIGTERM)])
    assert json.loads(record.read_text())["children"] == []
    record.write_text("{not json")
    assert leftovers.alive(record) == (None, [])
