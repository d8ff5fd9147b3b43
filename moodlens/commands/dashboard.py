"""`moodlens dashboard`: the live dashboard alone, over a state folder `moodlens up` (or the demo) writes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dash = groups.add_parser("dashboard", help="serve the live dashboard for a state folder")
    dash.add_argument("--state", type=Path, default=None,
                      help="the site's state folder (default: [site] state_dir of --config, else var/moodlens)")
    dash.add_argument("--config", "-c", type=Path, default=None, help="take state folder, address and token from "
                      "this site file")
    dash.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1; others need --token)")
    dash.add_argument("--port", type=int, default=None, help="port (default 8765)")
    dash.add_argument("--token", default=None, help="required off loopback: 16 or more random characters. Other "
                      "users can read a command line (ps): prefer MOODLENS_DASHBOARD_TOKEN or the site file")
    dash.set_defaults(handler=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    from onebox.config import load
    from onebox.dashboard.server import open_dashboard

    config = load(args.config) if args.config else None
    section: dict[str, Any] = config.values["dashboard"] if config else {"host": "127.0.0.1", "port": 8765}
    state = args.state or (config.state_dir if config else Path("var/moodlens"))
    if not state.is_dir():
        raise FileNotFoundError(f"no state folder at {state}: start `moodlens up` (or `moodlens demo`) first, "
                                "or pass --state")
    host = args.host or section["host"]
    token = args.token or (config.dashboard_token if config else os.environ.get("MOODLENS_DASHBOARD_TOKEN", ""))
    try:
        server = open_dashboard(state, host, args.port or section["port"], token,
                                config.reports_dir if config else None, config.lake_dir if config else None,
                                section.get("allowed_hosts", ()),
                                config.get("site", "timezone") if config else None)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    print(f"dashboard for {state} at {server.url}{'?token=…' if token else ''} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.sock.close()
    return 0
