"""`moodlens up`: runs the site (one edge per camera, the stream runner, jobs, the dashboard) as one service."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from moodlens.commands.site_options import add_config_option

# A busy dashboard port may free itself (a previous `up` still stopping): EX_TEMPFAIL, which the shipped
# systemd unit restarts, unlike 2 (a wrong site file, a second `up` on the same state folder).
EXIT_PORT_BUSY = 75


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
    from onebox.dashboard.server import PortInUseError, open_dashboard
    from onebox.layout import Layout, lock
    from onebox.processes import RealClock, SubprocessSpawner

    config = load(args.config)
    layout = Layout(config.state_dir)
    try:
        holder = lock(layout.root)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    zone = config.get("site", "timezone")
    logs.setup(layout.logs, zone=zone)
    dashboard = None
    section = config.values["dashboard"]
    if section["enabled"] and not args.no_dashboard:
        port = section["port"] if args.port is None else args.port
        try:
            dashboard = open_dashboard(layout.root, section["host"], port, config.dashboard_token,
                                       config.reports_dir, config.lake_dir, section["allowed_hosts"])
        except PortInUseError as error:
            logs.teardown()
            holder.close()
            print(f"moodlens: error: {error}; exit {EXIT_PORT_BUSY}: under systemd (moodlens.service) `moodlens up` is "
                  "tried again shortly", file=sys.stderr)
            return EXIT_PORT_BUSY
        except RuntimeError as error:
            raise ValueError(str(error)) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    box = Box(config, SubprocessSpawner(), RealClock())
    if dashboard is not None:
        dashboard.start()
    page = f"dashboard at {dashboard.url}" if dashboard is not None else "no dashboard"
    cameras = f"{len(config.cameras)} camera{'s' if len(config.cameras) != 1 else ''}"
    print(f"moodlens up: site {config.site_id}, {cameras}; {page}; state in {layout.root}; "
          f"logs in {layout.logs / logs.LOG_FILE}; times below are the site's ({zone}); Ctrl-C to stop", flush=True)
    try:
        box.run(stop)
    finally:
        if dashboard is not None:
            dashboard.stop()
        holder.close()
        logs.teardown()
    return 0
