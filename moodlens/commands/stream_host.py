"""The flags of `moodlens stream run` and `moodlens stream kcl-worker`, parsed and handed to the
stream's wiring (``stream.wiring``), which builds the host from them.

Sources: ``--log DIR`` (the local log) or ``--source kinesis://STREAM``. State: ``--state DIR`` or
``--state s3://BUCKET/prefix``. Outputs: the local files in ``--out DIR`` (default: the state folder
when it is local) and, on AWS, ``--firehose``, ``--sns-topic``, ``--event-bus``,
``--metrics-namespace``, ``--dead-letter-queue``; on ECS these come from the task's environment
(``MOODLENS_*``, named in `stream.sinks.aws`: the stack sets them), so the task's command stays
``stream run --source kinesis://STREAM --state s3://BUCKET/prefix``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream import wiring
from stream.alarms import AlarmConfig, default_alarm_window
from stream.engine import EngineConfig
from stream.host.loop import Host, HostConfig
from stream.sinks.aws import (
    ENV_ALARM_TOPIC_ARN,
    ENV_DEAD_LETTER_QUEUE_URL,
    ENV_EVENT_BUS,
    ENV_FIREHOSE_STREAM,
    ENV_METRIC_NAMESPACE,
)
from stream.wiring import Outlets

ALARM_DEFAULTS = AlarmConfig()  # the flags' defaults are the alarm rules' own


def add_arguments(run: argparse.ArgumentParser) -> None:
    where = run.add_argument_group("where from, where to")
    where.add_argument("--log", type=Path, help="local event log directory (the embedded event log, package locallog)")
    where.add_argument("--source", help="kinesis://STREAM (the AWS consumer); instead of --log")
    where.add_argument("--state", required=True,
                       help="state folder (checkpoint.json and, unless --out, the output files) or s3://BUCKET/prefix")
    where.add_argument("--out", type=Path, help="folder for windows/alarms/late/deadletter .jsonl")
    for flag, variable, what in (
            ("--firehose", ENV_FIREHOSE_STREAM, "Firehose delivery stream for windows, alarms, late events"),
            ("--sns-topic", ENV_ALARM_TOPIC_ARN, "SNS topic ARN for alarms"),
            ("--event-bus", ENV_EVENT_BUS, "EventBridge bus for alarms"),
            ("--metrics-namespace", ENV_METRIC_NAMESPACE,
             "CloudWatch namespace for NetScore/Tracks/Faces per site and camera"),
            ("--dead-letter-queue", ENV_DEAD_LETTER_QUEUE_URL, "SQS queue URL for dead letters")):
        where.add_argument(flag, default=os.environ.get(variable) or None, help=f"{what} (default ${variable})")
    where.add_argument("--endpoint-url", help="AWS endpoint (moto server, LocalStack)")
    where.add_argument("--region", help="AWS region")
    where.add_argument("--commit-every-s", type=float, default=None,
                       help="store state at most this often (default: every batch locally, 30 s on S3)")
    engine = run.add_argument_group("windows and alarms")
    engine.add_argument("--batch-size", type=int, default=5_000)
    engine.add_argument("--window-minutes", default="5,15,60", help="rolling window lengths (default 5,15,60)")
    engine.add_argument("--lateness-s", type=float, default=120.0, help="allowed lateness per site (default 120)")
    engine.add_argument("--min-tracks", type=int, default=5, help="fewer tracks: insufficient data (default 5)")
    engine.add_argument("--alarm-window", type=int, default=None,
                        help="window length the alarms and metrics watch, one of --window-minutes "
                             "(default 15, or the longest window when 15 is not one)")
    engine.add_argument("--low-raise", type=float, default=ALARM_DEFAULTS.low_raise,
                        help="a window's net score below this can be a bad window (default %(default)g)")
    engine.add_argument("--low-clear", type=float, default=ALARM_DEFAULTS.low_clear,
                        help="a window's net score at or above this is a good window (default %(default)g)")
    engine.add_argument("--z-raise", type=float, default=ALARM_DEFAULTS.z_raise,
                        help="how sure a bad window must be: its net score this many standard errors below "
                             "--low-clear, so a few sour faces in a quiet window raise nothing; higher: fewer "
                             "false alarms, later and fewer true ones; 0: the net score alone (default %(default)g)")
    engine.add_argument("--hold-minutes", type=int, default=ALARM_DEFAULTS.hold_minutes,
                        help="a raised alarm stays raised at least this long, so it cannot flap "
                             "(0: no hold; default %(default)s)")
    engine.add_argument("--quiet-minutes", type=int, default=ALARM_DEFAULTS.quiet_minutes,
                        help="a raised alarm resolves after this long without enough customers (site closed "
                             "or quiet; 0: never; default %(default)s)")
    engine.add_argument("--silent-minutes", type=int, default=ALARM_DEFAULTS.silent_minutes,
                        help="a camera with no heartbeat this long raises camera_silent (default %(default)s)")
    engine.add_argument("--idle-advance-s", type=float, default=3600.0,
                        help="a site without input this long: its event time moves on with the clock, closing its "
                             "last windows; an outage longer than this makes its spooled events late (0: never; "
                             "default %(default)g)")
    engine.add_argument("--unreachable-minutes", type=float, default=5.0,
                        help="a site that was sending and sent nothing this long (wall clock) raises "
                             "site_unreachable, cleared by its next event (0: never; default %(default)g)")
    engine.add_argument("--no-time-check", action="store_true",
                        help="accept any event time (replaying old data); default refuses far future/past")


def host_config(args: argparse.Namespace) -> HostConfig:
    s3 = str(args.state).startswith("s3://")
    windows = _window_minutes(args.window_minutes)
    if args.lateness_s < 0:
        raise ValueError(f"--lateness-s must be >= 0, got {args.lateness_s}")
    alarm_window = args.alarm_window if args.alarm_window is not None else default_alarm_window(windows)
    return HostConfig(
        engine=EngineConfig(window_minutes=windows,
                            allowed_lateness_ms=int(args.lateness_s * 1000), min_tracks=args.min_tracks),
        alarms=AlarmConfig(window_minutes=alarm_window, min_tracks=args.min_tracks,
                           low_raise=args.low_raise, low_clear=args.low_clear, silent_minutes=args.silent_minutes,
                           z_raise=args.z_raise, hold_minutes=args.hold_minutes, quiet_minutes=args.quiet_minutes),
        batch_size=args.batch_size, check_time=not args.no_time_check,
        idle_advance_ms=(int(args.idle_advance_s * 1000) if args.idle_advance_s > 0 and not getattr(args, "once", False)
                         else None),
        unreachable_minutes=(args.unreachable_minutes if args.unreachable_minutes > 0
                             and not getattr(args, "once", False) else None),
        commit_every_s=args.commit_every_s if args.commit_every_s is not None else (30.0 if s3 else 0.0))


def clients(args: argparse.Namespace) -> Callable[[str], Any]:
    """AWS clients for the wiring: boto3 is imported here, at the edge, and only when one is needed."""

    def client(service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=args.endpoint_url, region_name=args.region)
    return client


def outlets(args: argparse.Namespace) -> Outlets:
    return Outlets(out=args.out, firehose=args.firehose, sns_topic=args.sns_topic, event_bus=args.event_bus,
                   metrics_namespace=args.metrics_namespace, dead_letter_queue=args.dead_letter_queue)


def build_host(args: argparse.Namespace) -> Host:
    return wiring.build_host(log=args.log, url=args.source, state=str(args.state), outlets=outlets(args),
                             config=host_config(args), client=clients(args))


def kcl_processor(args: argparse.Namespace) -> Any:
    return wiring.kcl_processor(str(args.state), outlets(args), host_config(args), clients(args))


def _window_minutes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(m) for m in text.split(","))
    except ValueError:
        raise ValueError(f"--window-minutes {text!r}: give whole minutes separated by commas, e.g. 5,15,60") from None
