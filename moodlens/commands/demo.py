"""`moodlens demo`: the embedded pipeline over the bundled sample clips."""

from __future__ import annotations

import argparse


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = groups.add_parser("demo", help="run the embedded pipeline over the sample clips")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    raise NotImplementedError("the demo is wired once the edge pipeline lands")
