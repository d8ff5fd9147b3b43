"""One producer name, one appender: a second copy of a camera's edge is refused, and a dead one frees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.publish.local import LocalLogTransport
from locallog import LocalLog, LogLockedError, claim

HOLD = ("import sys, time\nfrom locallog import claim\nc = claim(sys.argv[1], sys.argv[2])\n"
        "print('held', flush=True)\ntime.sleep(600)\n")


def test_a_second_claim_of_one_producer_is_refused_and_others_append_beside_it(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with claim(log, "cafe.door"):
        with pytest.raises(LogLockedError, match=r"cafe.door is already appending to this log \(pid \d+\)"):
            claim(log, "cafe.door")
        with claim(log, "cafe.terrace"):  # another camera's edge appends beside it
            LocalLog(log).append([b'{"n": 1}'])
    claim(log, "cafe.door").release()  # released with the first
    assert LocalLog(log).end_offset() == 1  # the claims' folder is not a segment
    with pytest.raises(ValueError, match="producer name"):
        claim(log, "../elsewhere")


def test_a_claim_dies_with_its_process_however_it_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "cafe.door"], stdout=subprocess.PIPE,
                              text=True, env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LogLockedError, match=rf"pid {holder.pid}\)"):
            claim(tmp_path, "cafe.door")
        holder.kill()  # kill -9: no cleanup ran
        holder.wait()
        claim(tmp_path, "cafe.door").release()
    finally:
        holder.kill()
        holder.wait()


def test_a_second_edge_transport_for_one_camera_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    first = LocalLogTransport(tmp_path / "log", producer="cafe.door")
    with pytest.raises(ValueError, match="a second copy would put every face in twice"):
        LocalLogTransport(tmp_path / "log", producer="cafe.door")
    first.close()
    LocalLogTransport(tmp_path / "log", producer="cafe.door").close()
