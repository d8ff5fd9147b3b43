"""`moodlens stream run` (the embedded consumer) and `moodlens stream tail` (windows and alarms live)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from stream.jsonl import read_jsonl


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("stream", help="stream commands")
    commands = group.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="embedded consumer: local log -> windows and alarms, checkpointed")
    run.add_argument("--log", type=Path, required=True, help="local event log directory (moodlens.locallog)")
    run.add_argument("--state", type=Path, required=True,
                     help="state directory: checkpoint, windows.jsonl, alarms.jsonl, late.jsonl, deadletter.jsonl")
    run.add_argument("--once", action="store_true", help="process what is in the log now, then exit")
    run.add_argument("--flush", action="store_true", help="with --once: close every open window at the end")
    run.add_argument("--batch-size", type=int, default=5_000)
    run.add_argument("--poll-s", type=float, default=0.5)
    run.add_argument("--window-minutes", default="5,15,60", help="rolling window lengths (default 5,15,60)")
    run.add_argument("--lateness-s", type=float, default=120.0, help="allowed lateness (default 120)")
    run.add_argument("--min-tracks", type=int, default=5, help="fewer tracks: insufficient data (default 5)")
    run.add_argument("--alarm-window", type=int, default=None,
                     help="window length the alarms watch, one of --window-minutes "
                          "(default 15, or the longest window when 15 is not one)")
    run.add_argument("--low-raise", type=float, default=-0.2)
    run.add_argument("--low-clear", type=float, default=0.0)
    run.add_argument("--silent-minutes", type=int, default=5)
    run.add_argument("--idle-advance-s", type=float, default=60.0,
                     help="no input for this long: move event time on with the clock (0: never)")
    run.add_argument("--no-time-check", action="store_true",
                     help="accept any event time (replaying old data); default refuses far future/past")
    run.set_defaults(handler=run_embedded)

    tail = commands.add_parser("tail", help="print windows and alarms as the embedded consumer writes them")
    tail.add_argument("--state", type=Path, required=True, help="the state directory of `stream run`")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    tail.add_argument("--lines", "-n", type=int, default=20, help="start with the last N of each (default 20)")
    tail.add_argument("--minutes", type=int, default=None, help="only windows of this length")
    tail.add_argument("--site", default=None)
    tail.add_argument("--alarms-only", action="store_true")
    tail.add_argument("--json", action="store_true", help="print the events as JSON lines")
    tail.set_defaults(handler=run_tail)


def run_embedded(args: argparse.Namespace) -> int:
    from moodlens.locallog import LocalLog
    from stream.alarms import AlarmConfig
    from stream.embedded import EmbeddedRunner, RunnerConfig
    from stream.engine import EngineConfig

    if not args.log.is_dir():
        raise FileNotFoundError(f"no event log at {args.log}")
    try:
        windows = tuple(int(m) for m in args.window_minutes.split(","))
    except ValueError:
        raise ValueError(f"--window-minutes must be whole minutes separated by commas, got {args.window_minutes!r}"
                         ) from None
    if args.lateness_s < 0 or args.poll_s <= 0:
        raise ValueError("--lateness-s must be >= 0 and --poll-s > 0")
    config = RunnerConfig(
        engine=EngineConfig(window_minutes=windows,
                            allowed_lateness_ms=int(args.lateness_s * 1000), min_tracks=args.min_tracks),
        alarms=AlarmConfig(window_minutes=args.alarm_window if args.alarm_window is not None
                           else 15 if 15 in windows else max(windows), min_tracks=args.min_tracks,
                           low_raise=args.low_raise, low_clear=args.low_clear,
                           silent_minutes=args.silent_minutes),
        batch_size=args.batch_size, check_time=not args.no_time_check,
        idle_advance_ms=int(args.idle_advance_s * 1000) if args.idle_advance_s > 0 and not args.once else None)
    runner = EmbeddedRunner(LocalLog(args.log), args.state, config, source=f"locallog:{args.log}")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        if args.once:
            runner.drain(flush=args.flush)
        else:
            runner.run(lambda: bool(stopping), poll_s=args.poll_s)
    except KeyboardInterrupt:
        pass
    finally:
        runner.close()
        print(json.dumps({"offset": runner.offset, **runner.counters, "engine": vars(runner.engine.stats)}),
              file=sys.stderr)
    return 0


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _interval(ci: dict[str, float] | None) -> str:
    return f"[{ci['low']:+.2f},{ci['high']:+.2f}]" if ci else ""


def format_event(event: dict[str, Any]) -> str:
    key = f"{event['site_id']}/{event.get('camera_id') or '*'}"
    if event["schema"] == "sentiment_alarm":
        value = "" if event["value"] is None else f" value={event['value']:g}"
        return (f"{_time(event['event_time_ms'])} {event['state']:5} {event['rule']:14} {key}{value} "
                f"— {event['reason']}")
    head = (f"{_time(event['window_end_ms'])} {event['window_minutes']:>3}m {key:24} tracks={event['tracks']:<4} "
            f"faces={event['faces']:<5}")
    if event["insufficient_data"]:
        return head + " insufficient data"
    return (head + f" net={event['net_score']:+.2f}{_interval(event['net_score_ci'])} "
            f"valence={event['mean_valence']:+.2f}{_interval(event['valence_ci'])}")


def run_tail(args: argparse.Namespace) -> int:
    from stream.embedded import ALARMS, WINDOWS

    if not args.state.is_dir():
        raise FileNotFoundError(f"no state directory at {args.state}")
    sources = [args.state / ALARMS] if args.alarms_only else [args.state / WINDOWS, args.state / ALARMS]
    positions = dict.fromkeys(sources, 0)

    def wanted(event: dict[str, Any]) -> bool:
        if args.site and event["site_id"] != args.site:
            return False
        return not (event["schema"] == "sentiment_window" and args.minutes
                    and event["window_minutes"] != args.minutes)

    def emit(events: list[dict[str, Any]]) -> None:
        for event in events:
            print(json.dumps(event) if args.json else format_event(event), flush=True)

    for path in sources:
        events, positions[path] = read_jsonl(path)
        emit([e for e in events if wanted(e)][-args.lines:] if args.lines > 0 else [])
    while args.follow:
        time.sleep(0.5)
        for path in sources:
            size = path.stat().st_size if path.exists() else 0
            # the runner truncates an uncommitted tail on restart: read on from the new end
            positions[path] = min(positions[path], size)
            events, positions[path] = read_jsonl(path, positions[path])
            emit([e for e in events if wanted(e)])
    return 0
