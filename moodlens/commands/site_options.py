"""Options shared by the one-box commands (`init`, `config`, `up`, `dashboard`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from onebox.config import DEFAULT_FILE


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=DEFAULT_FILE,
                        help="the site file (default ./moodlens.toml; `moodlens init` writes one)")

