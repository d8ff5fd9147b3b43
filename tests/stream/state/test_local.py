"""A local state folder has one writer: a second host (in this process or another) is refused,
naming the folder and the holder's pid, before it reads or writes anything; the lock goes with the
holder, also when it is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from locallog import LocalLog
from moodlens.cli import main
from stream.embedded import CHECKPOINT, WINDOWS, EmbeddedRunner
from stream.jsonl import dumps
from stream.state.local import LocalStateStore, StateLockedError
from tests.stream.helpers import T0, face
from tests.stream.test_embedded import CONFIG

REPO = Path(__file__).resolve().parents[3]


def a_log(folder: Path, count: int = 200) -> LocalLog:
    log = LocalLog(folder)
    log.append([dumps(face(T0 + i * 5_000, track=f"t{i // 5}", n=i)) for i in range(count)])
    return log


def test_a_second_host_on_the_same_folder_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    a_log(tmp_path / "log").close()
    first = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", CONFIG)
    first.drain()
    checkpoint = (tmp_path / "state" / CHECKPOINT).read_bytes()
    windows = (tmp_path / "state" / WINDOWS).read_bytes()
    with pytest.raises(StateLockedError, match=rf"{tmp_path / 'state'}: another stream host \(pid {os.getpid()}\) "
                                               "is writing this state folder"):
        EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", CONFIG)
    assert (tmp_path / "state" / CHECKPOINT).read_bytes() == checkpoint  # the refused one wrote nothing
    assert (tmp_path / "state" / WINDOWS).read_bytes() == windows
    first.close()
    second = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", CONFIG)
    assert second.offset == 200
    second.close()


def test_a_refused_state_lets_go_of_the_lock(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    older = '{"version": 2, "source": "log", "sites": {}}'
    (tmp_path / "state" / CHECKPOINT).write_text(older)
    for _ in range(2):  # the second attempt is refused for the same reason, not for a lock left behind
        with pytest.raises(ValueError, match=r"checkpoint.json: checkpoint has version 2, this host expects 3 "
                                             r"\(another version of moodlens wrote it; nothing was overwritten"):
            EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", CONFIG, source="log")
    assert (tmp_path / "state" / CHECKPOINT).read_text() == older


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from stream.state.local import LocalStateStore
    store = LocalStateStore(sys.argv[2])
    print("holding", flush=True)
    time.sleep(600)
""")


def test_another_process_holding_the_folder_is_named_and_its_sigkill_frees_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_log(tmp_path / "log").close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(REPO), str(tmp_path / "state")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        code = main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"),
                     "--once", "--no-time-check"])
        assert code == 2
        error = capsys.readouterr().err
        assert f"{tmp_path / 'state'}: another stream host (pid {holder.pid}) is writing this state folder" in error
        assert not (tmp_path / "state" / CHECKPOINT).exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"),
                 "--once", "--no-time-check"]) == 0  # the kernel let go with the killed process
    LocalStateStore(tmp_path / "state").close()
