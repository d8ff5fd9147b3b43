"""`moodlens demo`: recorded clips as the cameras of one site, through `moodlens up`'s machinery.

Each clip plays as one camera of the site `demo-cafe`: one `moodlens edge run` process per clip
(detect, track, classify → spool → local log), the stream runner (windows and alarms) and the
live dashboard, supervised by the same code as `moodlens up`. Everything lands under `--state`
(default var/demo), including an annotated video of the first clip. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from moodlens.commands.demo_history import add_history_command

REPO_VIDEO = Path(__file__).resolve().parents[2] / "data" / "video"


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = groups.add_parser("demo", help="try it: the sample clips as the cameras of one site, end to end",
                             description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--videos", type=Path, default=REPO_VIDEO,
                      help="folder of clips, one camera each (default: the bundled data/video)")
    demo.add_argument("--state", type=Path, default=Path("var/demo"), help="where the demo writes (reset each run)")
    demo.add_argument("--min-tracks", type=int, default=1,
                      help="fewest customers for a window to report numbers (the demo site has only a few)")
    demo.add_argument("--blur-faces", action="store_true", help="pixelate faces in the annotated video")
    demo.add_argument("--serve", action="store_true", help="keep the dashboard up afterwards (Ctrl-C to stop)")
    demo.add_argument("--history-days", type=int, default=28,
                      help="days of synthetic history of two more sites for the lake and the report (0: none)")
    demo.add_argument("--port", type=int, default=8765, help="dashboard port (default 8765; 0: any free one)")
    demo.set_defaults(handler=run_demo)
    # `moodlens demo history` writes synthetic history; plain `moodlens demo [options]` runs the clips.
    add_history_command(demo.add_subparsers(dest="demo_command", metavar="SUBCOMMAND"))


def run_demo(args: argparse.Namespace) -> int:
    from moodlens.commands.stream import format_event
    from onebox import demo, logs
    from onebox.dashboard.server import PortInUseError, open_dashboard
    from onebox.layout import lock

    if args.history_days < 0:
        raise ValueError(f"--history-days must be 0 (none) or more, got {args.history_days}")
    if args.min_tracks < 1:
        raise ValueError(f"--min-tracks must be at least 1, got {args.min_tracks}")
    clips = demo.find_clips(args.videos)
    state: Path = args.state
    try:
        holder = lock(state)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    try:
        demo.reset(state)
    except ValueError:
        holder.close()
        raise
    logs.setup(state / "logs", console=True, console_children=False, console_level="WARNING")
    print(f"moodlens demo: site {demo.SITE}, {len(clips)} cameras, one clip each; everything in {state}/",
          flush=True)
    dashboard = None
    try:
        dashboard = open_dashboard(state, "127.0.0.1", args.port, "")
        dashboard.start()
        print(f"watch it live: {dashboard.url}", flush=True)
    except PortInUseError as error:
        print(f"(no live dashboard: {error})", file=sys.stderr)
    print("edges (detect, track, classify; one process per camera):", flush=True)
    try:
        result = demo.run_demo(clips, state, args.min_tracks, args.blur_faces, args.port,
                               history_days=args.history_days)
        print("\n" + demo.summary(result))
        print("\nalarm log:" if result.alarms else "\nalarm log: no alarm")
        for alarm in result.alarms:
            print("  " + format_event(alarm))
        for video in sorted(state.glob("annotated_*.mp4")):
            print(f"\nannotated video: {video}")
        if result.history:
            print(f"\n{result.history}")
        if result.lake_summary:
            print("last 7 days per site, from the lake (`moodlens sql`, view sentiment_by_hour_site):")
            print(result.lake_summary)
        print(f"report: {result.report}")
        print(f"windows and alarms: {state / 'stream'}/ (`moodlens stream tail --state {state / 'stream'}`)")
        if dashboard is not None and args.serve:
            print(f"\ndashboard: {dashboard.url} (Ctrl-C to stop)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                dashboard.thread.join() if dashboard.thread else None
        else:
            print(f"dashboard: `moodlens dashboard --state {state}`, then open http://127.0.0.1:{args.port or 8765}/ "
                  "in a browser (or run the demo with --serve)")
    finally:
        if dashboard is not None:
            dashboard.stop()
        holder.close()
        logs.teardown()
    sys.stdout.flush()
    return 1 if result.failed else 0
