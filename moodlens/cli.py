"""The `moodlens` command. Each command group lives in its own module under `moodlens.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from moodlens import __version__
from moodlens.commands import COMMAND_GROUPS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodlens", description=__doc__)
    parser.add_argument("--version", action="version", version=f"moodlens {__version__}")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for register in COMMAND_GROUPS:
        register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError) as error:
        print(f"moodlens: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
