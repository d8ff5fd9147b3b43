"""`moodlens init`: writes a commented example site file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = groups.add_parser("init", help="write a commented example site file (moodlens.toml) to edit")
    init.add_argument("path", nargs="?", type=Path, default=Path("moodlens.toml"), help="where (default moodlens.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    from onebox.example import write_example

    try:
        write_example(args.path, args.force)
    except FileExistsError as error:
        raise ValueError(str(error)) from None
    print(f"wrote {args.path}: set [site] id, name and timezone and your cameras, check it with "
          f"`moodlens config check --config {args.path}`, then start with `moodlens up --config {args.path}`")
    return 0
