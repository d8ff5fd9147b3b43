"""`moodlens stream tail` says why a camera window with enough customers shows no score."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodlens.cli import main
from moodlens.commands.stream import HIDDEN_FOR_ANOTHER
from tests.onebox.test_dashboard_suppression import _windowed


def _tail(state: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["stream", "tail", "--state", str(state), "-n", "1000"]) == 0
    return capsys.readouterr().out.splitlines()


def test_a_window_hidden_for_another_cameras_sake_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Six customers at the door, two on the terrace, windowed by the real stream runner: the terrace has
    too few, and the door is hidden so that the site's score minus the door's cannot give the terrace's."""
    _windowed(tmp_path, {"door": ["happy"] * 6, "terrace": ["angry"] * 2})
    lines = [line for line in _tail(tmp_path / "stream", capsys) if "tracks=0 " not in line]
    door = [line for line in lines if "cafe/door" in line]
    terrace = [line for line in lines if "cafe/terrace" in line]
    site = [line for line in lines if "cafe/*" in line]
    assert door and all(line.endswith(f"no score: {HIDDEN_FOR_ANOTHER}") and "tracks=6 " in line for line in door)
    assert terrace and all(line.endswith(" insufficient data") for line in terrace)
    assert site and all("net=+0.50" in line for line in site)


def test_without_the_runners_saved_state_a_hidden_window_is_not_guessed_at(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _windowed(tmp_path, {"door": ["happy"] * 6, "terrace": ["angry"] * 2})
    saved = list((tmp_path / "stream").glob("checkpoint*"))
    assert saved
    for path in saved:
        path.unlink()
    door = [line for line in _tail(tmp_path / "stream", capsys) if "cafe/door" in line and "tracks=0 " not in line]
    assert door and all(line.endswith(" insufficient data") for line in door)


def test_cameras_that_all_hold_enough_show_their_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _windowed(tmp_path, {"door": ["happy"] * 6, "terrace": ["sad"] * 5})
    lines = [line for line in _tail(tmp_path / "stream", capsys) if "tracks=0 " not in line]
    assert lines and not any(HIDDEN_FOR_ANOTHER in line or "insufficient" in line for line in lines)
