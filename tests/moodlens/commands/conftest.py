"""Fixtures for the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`edge run` keeps its spool and model cache under MOODLENS_STATE_DIR: a fresh one per test, never ~."""
    state = tmp_path / "state"
    monkeypatch.setenv("MOODLENS_STATE_DIR", str(state))
    monkeypatch.delenv("MOODLENS_LOCAL_LOG", raising=False)
    monkeypatch.delenv("MOODLENS_SPOOL", raising=False)
    return state
