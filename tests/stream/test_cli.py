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
    # 30 sad minutes: an alarm needs two disjoint 15-minute windows of evidence (stream.alarms)
    events = [face(T0 + s * 1_000, f"t{s // 20}", top="sad" if s > 600 else "happy", n=s) for s in range(2_400)]
    log.append([dumps(beat(T0))] + [dumps(e) for e in events] + [b"garbage"])
    log.close()
    state = tmp_path / "state"
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(state), "--once", "--flush",
                 "--no-time-check", "--min-tracks", "3", "--silent-minutes", "3"]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("stream run: read 2402 records (log offset now 2402)")
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


@pytest.mark.parametrize(("flags", "message"), [
    (["--alarm-window", "7"], "alarm window_minutes 7 is not one of the window lengths; choose one of 5, 15, 60"),
    (["--silent-minutes", "-1"], "the command line: silent_minutes: must be a finite number at least 1, got -1"),
    (["--window-minutes", "5,x"], "give whole minutes separated by commas"),
    (["--min-tracks", "0"], "the command line: min_tracks: must be a finite number at least 1, got 0"),
    (["--batch-size", "0"], "batch_size must be >= 1"),
    (["--z-raise", "-0.5"], "z_raise: must be between 0 and 10, got -0.5"),
    (["--hold-minutes", "-1"], "hold_minutes: must be between 0 and 1440, got -1"),
    (["--quiet-minutes", "-10"], "quiet_minutes: must be between 0 and 1440, got -10"),
    (["--drop-detection", "cusum"], "drop_detection: must be one of sequential, windows; got 'cusum'"),
    (["--raise-m", "4"], "need 1 <= raise_m, clear_m <= raise_n"),
])
def test_run_refuses_settings_that_make_no_sense_naming_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    (tmp_path / "log").mkdir()
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"), "--once",
                 *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # refused before anything was written


def test_run_with_only_a_5_minute_window_watches_it_by_default(tmp_path: Path) -> None:
    LocalLog(tmp_path / "log").append([dumps(face(T0 + 1_000))])
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"), "--once",
                 "--flush", "--no-time-check", "--window-minutes", "5", "--min-tracks", "1"]) == 0


def test_the_summary_counts_conflicting_copies_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = face(T0 + 1_000)
    LocalLog(tmp_path / "log").append([dumps(event), dumps(event), dumps({**event, "valence": -1.0})])
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"), "--once",
                 "--no-time-check"]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.endswith("; 1 duplicates dropped, and 1 copies with the same event_id but other content "
                            "(the first kept)")
