"""`stream run` ends with a sentence a person reads, and names a bad option's value."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodlens.cli import main


def test_stream_run_prints_a_readable_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "00000000000000000000.jsonl").write_text('{"not": "an event"}\n')
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "s"), "--once"]) == 0
    err = capsys.readouterr().err
    assert "stream run: read 1 records (log offset now 1), 0 valid events" in err
    assert "1 rejected (deadletter.jsonl)" in err and "{" not in err


def test_a_bad_window_list_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "log").mkdir()
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "s"),
                 "--window-minutes", "5,x"]) == 2
    assert "--window-minutes '5,x': give whole minutes" in capsys.readouterr().err


def test_a_run_that_continues_a_state_says_what_it_read_itself(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The counters are the state's, earlier runs included: the second run read one record, not two."""
    log = tmp_path / "log"
    log.mkdir()
    segment = log / "00000000000000000000.jsonl"
    segment.write_text('{"not": "an event"}\n')
    argv = ["stream", "run", "--log", str(log), "--state", str(tmp_path / "s"), "--once"]
    assert main(argv) == 0
    capsys.readouterr()
    with segment.open("a") as handle:
        handle.write('{"still": "not an event"}\n')
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "stream run: read 1 records this run (log offset now 2); since its state began: 2 records" in err
    assert "2 rejected (deadletter.jsonl)" in err
