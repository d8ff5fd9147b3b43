"""Options shared by the one-box commands (`init`, `config`, `up`, `dashboard`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from onebox.config import DEFAULT_FILE


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=DEFAULT_FILE,
                        help="the site file (default ./moodlens.toml; `moodlens init` writes one)")


def has_command(words: Sequence[str]) -> bool:
    """Whether `moodlens <words...>` exists in this installation (scheduled jobs check before running)."""
    from moodlens.cli import build_parser

    parser: argparse.ArgumentParser = build_parser()
    for word in words:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or word not in subparsers[0].choices:
            return False
        parser = subparsers[0].choices[word]
    return True
