"""`moodlens stream ...` commands."""

from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("stream", help="stream commands")
    group.add_subparsers(dest="command", required=True)
