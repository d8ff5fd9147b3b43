"""`moodlens up`: runs the site (one edge per camera, the stream runner, jobs, the dashboard) as one service."""

from __future__ import annotations

import argparse
import signal
import threading

from moodlens.commands.site_options import add_config_option, has_command


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = groups.add_parser("up", help="run the whole site from its site file, restarting what crashes, "
                                      "with the live dashboard")
    add_config_option(up)
    up.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    up.add_argument("--port", type=int, default=None,
                    help="serve the dashboard on this port instead of the site file's [dashboard] port")
    up.set_defaults(handler=run_up)


def run_up(args: argparse.Namespace) -> int:
    from onebox import logs
    from onebox.box import Box
    from onebox.config import load
    from onebox.dashboard.server import open_dashboard
    from onebox.layout import Layout, lock
    from onebox.processes import RealClock, SubprocessSpawner

    config = load(args.config)
    layout = Layout(config.state_dir)
    try:
        holder = lock(layout.root)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    logs.setup(layout.logs)
    dashboard = None
    section = config.values["dashboard"]
    if section["enabled"] and not args.no_dashboard:
        try:
            port = args.port if args.port is not None else section["port"]
            dashboard = open_dashboard(layout.root, section["host"], port, config.dashboard_token,
                                       config.reports_dir, config.lake_dir)
        except RuntimeError as error:
            raise ValueError(str(error)) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    box = Box(config, SubprocessSpawner(), RealClock(), has_command)
    if dashboard is not None:
        dashboard.start()
        print(f"moodlens up: site {config.site_id}, {len(config.cameras)} cameras; dashboard at {dashboard.url}; "
              f"state in {layout.root}; logs in {layout.logs / logs.LOG_FILE}; Ctrl-C to stop", flush=True)
    try:
        box.run(stop)
    finally:
        if dashboard is not None:
            dashboard.stop()
        holder.close()
        logs.teardown()
    return 0
