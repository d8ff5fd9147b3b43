"""`moodlens config show`: every setting with its value and default, checked."""

from __future__ import annotations

import argparse

from moodlens.commands.site_options import add_config_option


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("config", help="show and check the site file")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser("show", help="every setting with its value and default (site file and MOODLENS_*)")
    add_config_option(show)
    show.add_argument("--defaults", action="store_true", help="show the defaults only, without a site file")
    show.set_defaults(handler=run_show)
    check = commands.add_parser("check", help="check the site file; exit 1 with every problem if it is wrong")
    add_config_option(check)
    check.set_defaults(handler=run_check)


def run_show(args: argparse.Namespace) -> int:
    from onebox.config import load
    from onebox.show import show

    if args.defaults:
        print(show(None, "(none: defaults)"))
        return 0
    print(show(load(args.config), str(args.config)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    import sys

    from onebox.config import check_sources, load

    config = load(args.config)
    problems = check_sources(config)
    if problems:
        print(f"{args.config}: {len(problems)} camera source problem{'s' if len(problems) > 1 else ''}:\n"
              + "\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 1
    print(f"{args.config}: ok (site {config.site_id}, {len(config.cameras)} camera"
          f"{'s' if len(config.cameras) != 1 else ''})")
    return 0
