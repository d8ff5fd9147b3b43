"""A consumer that read a burst and then hears nothing stores its state once the commit interval has passed,
not only at its next record: killed (-9) in the quiet, it does not read the burst again and send its alarms
to SNS a second time."""

from __future__ import annotations

from pathlib import Path

from locallog import LocalLog
from stream.host.loop import Host, HostConfig
from stream.jsonl import dumps
from stream.sources.locallog import LocalLogSource
from stream.state.local import LocalStateStore, read_state
from tests.stream.helpers import T0, face
from tests.stream.host.test_kcl import MemoryOutputs


def test_a_burst_then_silence_is_committed_once_the_interval_has_passed(tmp_path: Path) -> None:
    events = [face(T0 + i * 1_000, track=f"t{i}", n=i) for i in range(20)]
    with LocalLog(tmp_path / "log") as writer:
        writer.append([dumps(event) for event in events])
    now = [1_000.0]
    host = Host(LocalLogSource(LocalLog(tmp_path / "log"), "log"), LocalStateStore(tmp_path / "state"),
                MemoryOutputs(), HostConfig(commit_every_s=30.0), clock=lambda: now[0])
    assert host.step() == len(events)  # read, not yet stored: the interval has not passed
    checkpoint, _ = read_state(tmp_path / "state")
    assert checkpoint is None or checkpoint["counters"]["records"] == 0

    polls = []

    def quiet_for_a_minute() -> bool:
        polls.append(now[0])
        now[0] += 10.0
        return len(polls) > 6

    host.run(quiet_for_a_minute, poll_s=0.0)
    host.close()  # no commit on the way out: as if killed
    checkpoint, _ = read_state(tmp_path / "state")
    assert checkpoint is not None and checkpoint["counters"]["records"] == len(events)
