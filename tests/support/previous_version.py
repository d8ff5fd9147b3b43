"""An earlier commit's source tree, for tests that read what its real host wrote (a saved state)."""

from __future__ import annotations

import subprocess  # nosec B404: git and tar, argument lists
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def source_at(commit: str, into: Path) -> Path:
    """``commit``'s files, as `git archive` gives them, unpacked into ``into`` (its pure-Python decoder:
    no C build)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail(f"git archive {commit} failed (a clone without main's history?): {archive.stderr.decode()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into
