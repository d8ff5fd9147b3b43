"""The `moodlens` command. Each command group lives in its own module under `moodlens.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from moodlens import __version__
from moodlens.commands import COMMAND_GROUPS

DESCRIPTION = """\
moodlens tells you how the room feels: cameras read the expressions of customers' faces (no image
ever leaves the box, no one is identified) and turn them into a live net score with alarms."""

EPILOG = """\
Getting started:
  moodlens demo                      try it on the bundled sample clips (then: moodlens demo --serve)
  moodlens init                      write a commented site file, moodlens.toml, to edit
  moodlens config show               every setting with its value and default
  moodlens up                        run the site: cameras, windows and alarms, the live dashboard
  moodlens dashboard --state DIR     the live dashboard alone, at http://127.0.0.1:8765/

`moodlens COMMAND --help` explains each command. The box keeps its files in the site file's
state_dir; a camera run on its own keeps its spool and model cache in ~/.moodlens
(MOODLENS_STATE_DIR)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodlens", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
