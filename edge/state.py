"""The edge's own state folder: its spool and its verified model copies, kept across restarts."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "MOODLENS_STATE_DIR"


def state_dir() -> Path:
    """MOODLENS_STATE_DIR (what `moodlens up` and Greengrass set), else ~/.moodlens; an empty value is unset."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.home() / ".moodlens")
