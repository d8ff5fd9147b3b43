"""`moodlens stream run` and `moodlens stream tail`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from locallog import LocalLog
from moodlens.cli import main
from stream.jsonl import dumps
from tests.stream.helpers import T0, beat, face


def test_run_once_then_tail_shows_windows_and_alarms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = LocalLog(tmp_path / "log")
    events = [face(T0 + s * 1_000, f"t{s // 20}", top="sad" if s > 600 else "happy", n=s) for s in range(1_500)]
    log.append([dumps(beat(T0))] + [dumps(e) for e in events] + [b"garbage"])
    log.close()
    state = tmp_path / "state"
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(state), "--once", "--flush",
                 "--no-time-check", "--min-tracks", "3", "--silent-minutes", "3"]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("stream run: read 1502 records (log offset now 1502)")
    assert "1 rejected (deadletter.jsonl)" in summary and "wrote 0 windows" not in summary
    assert main(["stream", "tail", "--state", str(state), "-n", "1000", "--minutes", "15"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any("15m cafe-1/*" in line and "net=+1.00" in line for line in out)
    assert any("ALARM low_sentiment  cafe-1/*" in line for line in out)
    assert any("ALARM camera_silent  cafe-1/cam-a" in line for line in out)
    assert not any(" 5m " in line for line in out)
    assert main(["stream", "tail", "--state", str(state), "--alarms-only", "--json"]) == 0
    alarms = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert alarms and all(a["schema"] == "sentiment_alarm" for a in alarms)


def test_run_refuses_a_missing_log(tmp_path: Path) -> None:
    assert main(["stream", "run", "--log", str(tmp_path / "nope"), "--state", str(tmp_path / "s"), "--once"]) == 2
