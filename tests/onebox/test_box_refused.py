"""What the stream runner refuses of the log (its dead letters) is said in `up`'s log as it happens, once."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from locallog import LocalLog
from locallog.stream_outputs import DEAD_LETTERS
from onebox.box import Box
from onebox.config import from_values
from onebox.eventlog import Refused
from tests.batch.lakes import update
from tests.onebox.test_supervisor import FakeClock, FakeSpawner

REPO = Path(__file__).resolve().parents[2]


def _stream_once(state: Path) -> None:
    """The real stream runner, over the log as it is now."""
    done = subprocess.run([sys.executable, "-m", "moodlens.cli", "stream", "run", "--log", str(state / "log"),
                           "--state", str(state / "stream"), "--once"], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_events_from_a_clock_hours_ahead_are_said_plainly_once(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "s"
    config = from_values({"site": {"id": "cafe-1", "state_dir": str(state)}}, [{"id": "door", "source": "0"}])
    now = int(time.time() * 1000)
    log = LocalLog(state / "log")
    log.append([json.dumps(update(now - 5_000, site="cafe-1", camera_id="door")).encode()])
    log.close()
    _stream_once(state)  # before the box: an old refusal is not told again
    box = Box(config, FakeSpawner(), FakeClock(), specs=[], jobs_enabled=False)
    box.start()
    log = LocalLog(state / "log")
    log.append([json.dumps(update(now + 3 * 3_600_000 + i, site="cafe-1", camera_id="door")).encode()
                for i in range(3)])  # a camera whose clock is three hours ahead
    log.close()
    _stream_once(state)
    with caplog.at_level(logging.ERROR, logger="moodlens.up"):
        box.check_refused()
        box.check_refused()
    assert caplog.text.count("the stream runner refused") == 1
    assert re.search(r"refused 3 events: event_time_out_of_range x3 \(event_time_ms: 10[78]\d\d s in the future",
                     caplog.text), caplog.text
    assert str(state / "stream" / DEAD_LETTERS) in caplog.text


def test_a_dead_letter_file_cut_back_to_the_checkpoint_is_followed_and_a_half_line_waits(tmp_path: Path) -> None:
    path = tmp_path / DEAD_LETTERS
    letter = {"source": "locallog:x@1", "code": "malformed_json", "reasons": [{"path": "$", "reason": "bad"}],
              "payload": "{"}
    path.write_text(json.dumps(letter) + "\n")
    refused = Refused(path)
    assert refused.read() == []  # what was there before the box started
    with path.open("a") as handle:
        handle.write(json.dumps(letter) + "\n" + json.dumps(letter)[:20])
    assert [r.code for r in refused.read()] == ["malformed_json"]
    with path.open("a") as handle:
        handle.write(json.dumps(letter)[20:] + "\n")
    assert len(refused.read()) == 1
    path.write_text(json.dumps(letter) + "\n")  # the runner's restart cut it back to its checkpoint
    assert refused.read() == []
    with path.open("a") as handle:
        handle.write(json.dumps(letter) + "\n")
    assert len(refused.read()) == 1
