"""`moodlens stream run` (the embedded consumer) and `moodlens stream tail` (windows and alarms live)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moodlens.commands.stream_host import add_arguments, build_host, kcl_processor
from stream.jsonl import read_jsonl


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("stream", help="turn events into 5/15/60-minute windows and alarms, and watch them")
    commands = group.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the stream host: local log or Kinesis -> windows and alarms, checkpointed")
    add_arguments(run)
    run.add_argument("--once", action="store_true", help="process what is in the log now, then exit")
    run.add_argument("--flush", action="store_true", help="with --once: close every open window at the end")
    run.add_argument("--poll-s", type=float, default=0.5)
    run.set_defaults(handler=run_host)

    kcl = commands.add_parser("kcl-worker", help="record processor for the KCL MultiLangDaemon (amazon_kclpy): --state s3://...")
    add_arguments(kcl)
    kcl.set_defaults(handler=run_kcl_worker)

    tail = commands.add_parser("tail", help="print windows and alarms as the embedded consumer writes them")
    tail.add_argument("--state", type=Path, required=True, help="the state directory of `stream run`")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    tail.add_argument("--lines", "-n", type=int, default=20, help="start with the last N of each (default 20)")
    tail.add_argument("--minutes", type=int, default=None, help="only windows of this length")
    tail.add_argument("--site", default=None)
    tail.add_argument("--alarms-only", action="store_true")
    tail.add_argument("--json", action="store_true", help="print the events as JSON lines")
    tail.set_defaults(handler=run_tail)


def run_host(args: argparse.Namespace) -> int:
    from stream.host.ports import FencedError

    host = build_host(args)
    records_before = host.counters["records"]  # restored from the checkpoint: what earlier runs read
    places = destinations(args)
    print(start_line(args, places, records_before), file=sys.stderr, flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        if args.once:
            host.drain(flush=args.flush)
        else:
            progress = Progress(lambda: host.counters, PROGRESS_EVERY_S, time.monotonic,
                                lambda line: print(line, file=sys.stderr, flush=True))
            host.run(lambda: progress() or bool(stopping), poll_s=args.poll_s)
            host.drain()  # stopped (SIGTERM): what the edges delivered while they stopped still counts
    except KeyboardInterrupt:
        host.commit()
    except FencedError as error:
        print(f"moodlens: error: {error}", file=sys.stderr)
        return 3
    finally:
        host.close()
        stats = host.sites.engine_stats()
        print(run_summary(host.position, host.counters, str(args.state), stats.duplicates,
                          stats.conflicting_duplicates, records_before, places), file=sys.stderr)
    return 0


PROGRESS_EVERY_S = 600.0  # a long-running consumer's log says what it did at most this often


class Progress:
    """Called at each poll: every `every_s`, a line of what the run read and wrote since the last one, when
    it did anything (a quiet consumer's log stays quiet)."""

    def __init__(self, counters: Callable[[], dict[str, int]], every_s: float, clock: Callable[[], float],
                 say: Callable[[str], None]) -> None:
        self.counters, self.every_s, self.clock, self.say = counters, every_s, clock, say
        self.last, self.seen = clock(), counters()

    def __call__(self) -> bool:
        if self.clock() - self.last < self.every_s:
            return False
        minutes = (self.clock() - self.last) / 60
        now = self.counters()
        new = {key: value - self.seen.get(key, 0) for key, value in now.items()}
        self.last, self.seen = self.clock(), now
        if any(new.get(key) for key in ("records", "windows", "alarms")):
            self.say(f"stream run: in the last {minutes:.0f} minutes read {new.get('records', 0)} records, wrote "
                     f"{new.get('windows', 0)} windows and {new.get('alarms', 0)} alarm changes; "
                     f"{new.get('late', 0)} late, {new.get('dead_letters', 0)} rejected")
        return False


def run_kcl_worker(args: argparse.Namespace) -> int:
    from stream.host.kcl import main

    main(lambda: kcl_processor(args))
    return 0


def destinations(args: argparse.Namespace) -> tuple[str, str, str]:
    """Where the windows and alarms, the late events and the dead letters go: files and AWS outlets."""
    from moodlens.commands.stream_host import outlets
    from stream.wiring import output_folder

    folder = output_folder(str(args.state), outlets(args))
    files = [] if folder is None else [f"{folder}/"]
    firehose = [f"Firehose {args.firehose}"] if args.firehose else []
    windows = " and ".join(files + firehose) or "no file or Firehose (give --out or --firehose)"
    late = " and ".join((["late.jsonl"] if files else []) + firehose) or "kept nowhere"
    dead = " and ".join((["deadletter.jsonl"] if files else []) +
                        ([f"SQS {args.dead_letter_queue}"] if args.dead_letter_queue else [])) or "kept nowhere"
    return windows, late, dead


def start_line(args: argparse.Namespace, places: tuple[str, str, str], records_before: int) -> str:
    """What a starting `stream run` reads and where it writes: the first line of a consumer task's log."""
    source = args.source or f"the log {args.log}"
    alarms = [f"SNS {args.sns_topic}"] if args.sns_topic else []
    alarms += [f"EventBridge bus {args.event_bus}"] if args.event_bus else []
    from moodlens.commands.stream_host import site_names

    named = len(site_names(args.site_names))
    also = f"; alarms also to {' and '.join(alarms)}" if alarms else ""
    if named:
        also += f" (naming {named} site{'s' if named != 1 else ''})"
    state = (f"resuming after {records_before} records" if records_before else "no checkpoint yet: from the start")
    return f"stream run: reading {source}; windows and alarms to {places[0]}{also}; state {args.state} ({state})"


def run_summary(position: Any, counters: dict[str, int], state: str, duplicates: int = 0,
                conflicting: int = 0, records_before: int = 0,
                places: tuple[str, str, str] | None = None) -> str:
    """What `stream run` did, for a person: read, written, set aside, and where to look. The counters
    are the state's (earlier runs included); a run that continued a state says what it read itself.
    `places`: where windows, late events and dead letters went (`destinations`; default the state folder)."""
    windows_to, late_to, dead_to = places or (f"{state}/", "late.jsonl", "deadletter.jsonl")
    c = counters
    where = f"log offset now {position}" if isinstance(position, int) else "positions in the checkpoint"
    if records_before:
        where = (f"read {c['records'] - records_before} records this run ({where}); since its state began: "
                 f"{c['records']} records")
    else:
        where = f"read {c['records']} records ({where})"
    copies = ""
    if duplicates or conflicting:  # in this process's engines (restored counts included)
        copies = f"; {duplicates} duplicates dropped"
        if conflicting:
            copies += f", and {conflicting} copies with the same event_id but other content (the first kept)"
    return (f"stream run: {where}, {c['events']} valid events; "
            f"wrote {c['windows']} windows and {c['alarms']} alarm changes to {windows_to}; "
            f"{c['late']} late events ({late_to}), {c['dead_letters']} rejected ({dead_to}){copies}")


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _interval(ci: dict[str, float] | None) -> str:
    return f"[{ci['low']:+.2f},{ci['high']:+.2f}]" if ci else ""


HIDDEN_FOR_ANOTHER = "hidden so that another camera's few customers cannot be worked out"


def saved_min_tracks_by_site(state: Path) -> dict[str, int]:
    """Each site's ``min_tracks`` as the stream runner last saved it in ``state`` (none before its first
    commit, or from a checkpoint it cannot read: its windows are then told as they are)."""
    from stream.host.sites import StateError
    from stream.published import saved_min_tracks
    from stream.state.local import read_state

    try:
        _, sites = read_state(state)
    except StateError:
        return {}
    found = {site: saved_min_tracks(document) if isinstance(document, dict) else None
             for site, document in sites.items()}
    return {site: value for site, value in found.items() if value is not None}


def format_event(event: dict[str, Any], min_tracks: int | None = None) -> str:
    """One line for a window or an alarm; ``min_tracks``: the site's, to say why a camera window with
    enough customers shows no score."""
    key = f"{event['site_id']}/{event.get('camera_id') or '*'}"
    if event["schema"] == "sentiment_alarm":
        value = "" if event["value"] is None else f" value={event['value']:g}"
        return (f"{_time(event['event_time_ms'])} {event['state']:5} {event['rule']:14} {key}{value} "
                f"— {event['reason']}")
    head = (f"{_time(event['window_end_ms'])} {event['window_minutes']:>3}m {key:24} tracks={event['tracks']:<4} "
            f"faces={event['faces']:<5}")
    if event["insufficient_data"]:
        from stream.published import hidden_for_another

        if hidden_for_another(event.get("camera_id"), True, event["tracks"], min_tracks):
            return f"{head} no score: {HIDDEN_FOR_ANOTHER}"
        return head + " insufficient data"
    return (head + f" net={event['net_score']:+.2f}{_interval(event['net_score_ci'])} "
            f"valence={event['mean_valence']:+.2f}{_interval(event['valence_ci'])}")


def run_tail(args: argparse.Namespace) -> int:
    from stream.embedded import ALARMS, WINDOWS

    if not args.state.is_dir():
        raise FileNotFoundError(f"no state directory at {args.state}")
    sources = [args.state / ALARMS] if args.alarms_only else [args.state / WINDOWS, args.state / ALARMS]
    positions = dict.fromkeys(sources, 0)
    min_tracks = saved_min_tracks_by_site(args.state)

    def wanted(event: dict[str, Any]) -> bool:
        if args.site and event["site_id"] != args.site:
            return False
        return not (event["schema"] == "sentiment_window" and args.minutes
                    and event["window_minutes"] != args.minutes)

    def emit(events: list[dict[str, Any]]) -> None:
        unsure = [e for e in events if e["schema"] == "sentiment_window" and e.get("camera_id")
                  and e["insufficient_data"] and e["site_id"] not in min_tracks]
        if unsure and not args.json:
            min_tracks.update(saved_min_tracks_by_site(args.state))  # a site the runner has saved since
        for event in events:
            print(json.dumps(event) if args.json else format_event(event, min_tracks.get(event["site_id"])),
                  flush=True)

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
