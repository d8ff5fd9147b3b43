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
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream import settings, wiring
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig
from stream.host.loop import Host, HostConfig
from stream.sinks.aws import (
    ENV_ALARM_TOPIC_ARN,
    ENV_DEAD_LETTER_QUEUE_URL,
    ENV_EVENT_BUS,
    ENV_FIREHOSE_STREAM,
    ENV_METRIC_NAMESPACE,
    ENV_SITE_NAMES,
)
from stream.wiring import Outlets


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
    where.add_argument("--site-names", metavar="JSON", default=os.environ.get(ENV_SITE_NAMES) or None,
                       help='the sites\' names the SNS texts use instead of their ids: {"<site>": "<name>", ...} '
                            f"(default ${ENV_SITE_NAMES}: the AWS stack sets it from its --sites)")
    where.add_argument("--endpoint-url", help="AWS endpoint (moto server, LocalStack)")
    where.add_argument("--region", help="AWS region")
    where.add_argument("--commit-every-s", type=float, default=None,
                       help="store state at most this often (default: every batch locally, 30 s on S3)")
    engine = run.add_argument_group("windows and alarms")
    engine.add_argument("--batch-size", type=int, default=5_000)
    engine.add_argument("--thresholds", type=Path, metavar="FILE",
                        help="JSON file of the window and alarm settings below, by key (the AWS stack's thresholds "
                             "file); a flag given too wins")
    engine.add_argument("--thresholds-json", metavar="JSON",
                        help="the same document inline (what `moodlens up` and the AWS tasks pass)")
    for row in settings.THRESHOLDS:
        engine.add_argument(*_flags(row), dest=row.key, type=_PARSE[row.kind], default=None,
                            metavar=row.key.upper(), help=f"{row.help} (default {_default(row)})")
    engine.add_argument("--idle-advance-s", type=float, default=3600.0,
                        help="a site without input this long: its event time moves on with the clock, closing its "
                             "last windows; an outage longer than this makes its spooled events late (0: never; "
                             "default %(default)g)")
    engine.add_argument("--unreachable-minutes", type=float, default=5.0,
                        help="a site that was sending and sent nothing this long (wall clock) raises "
                             "site_unreachable, cleared by its next event (0: never; default %(default)g)")
    engine.add_argument("--sites", metavar="JSON",
                        help='the sites\' time zones, whose local hours and days the alarm baselines learn: '
                             '{"<site>": {"timezone": "Europe/Berlin"}, ...} (the AWS stack\'s --sites; `moodlens up` '
                             "passes the site file's); a site left out is UTC")
    engine.add_argument("--no-time-check", action="store_true",
                        help="accept any event time (replaying old data); default refuses far future/past")


def host_config(args: argparse.Namespace) -> HostConfig:
    s3 = str(args.state).startswith("s3://")
    engine, alarms = thresholds(args)
    return HostConfig(
        engine=engine, alarms=alarms, batch_size=args.batch_size, check_time=not args.no_time_check,
        idle_advance_ms=(int(args.idle_advance_s * 1000) if args.idle_advance_s > 0 and not getattr(args, "once", False)
                         else None),
        unreachable_minutes=(args.unreachable_minutes if args.unreachable_minutes > 0
                             and not getattr(args, "once", False) else None),
        commit_every_s=args.commit_every_s if args.commit_every_s is not None else (30.0 if s3 else 0.0),
        site_zones=site_zones(args.sites))


def site_zones(sites: str | None) -> dict[str, str]:
    """site -> zone from `--sites`, read (and checked) by the lake's reader of that document: one format and
    one wording for the stream host and the compaction."""
    if sites is None:
        return {}
    from batch.lake.tables import sites_from_json

    return {str(row["site_id"]): str(row["timezone"]) for row in sites_from_json(sites, "--sites").to_pylist()}


def thresholds(args: argparse.Namespace) -> tuple[EngineConfig, AlarmConfig]:
    """The document (`--thresholds` or `--thresholds-json`), then the flags given, through `stream.settings`."""
    values: dict[str, Any] = {}
    source = "the command line"
    if args.thresholds is not None and args.thresholds_json is not None:
        raise ValueError("--thresholds and --thresholds-json: give the settings document once")
    if args.thresholds is not None:
        source = str(args.thresholds)
        values = settings.document(*settings.load(args.thresholds))
    elif args.thresholds_json is not None:
        source = "--thresholds-json"
        values = settings.document(*settings.parse(args.thresholds_json, source))
    given = {row.key: getattr(args, row.key) for row in settings.THRESHOLDS if getattr(args, row.key) is not None}
    if "window_minutes" in given:
        given["window_minutes"] = _window_minutes(given["window_minutes"])
    if given and "alarm_window_minutes" not in given and "window_minutes" in given:
        values.pop("alarm_window_minutes", None)  # the default for the windows given, not the document's
    return settings.configs({**values, **given}, source if not given or not values else f"{source} and the flags")


def clients(args: argparse.Namespace) -> Callable[[str], Any]:
    """AWS clients for the wiring: boto3 is imported here, at the edge, and only when one is needed."""

    def client(service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=args.endpoint_url, region_name=args.region)
    return client


def outlets(args: argparse.Namespace) -> Outlets:
    return Outlets(out=args.out, firehose=args.firehose, sns_topic=args.sns_topic, event_bus=args.event_bus,
                   metrics_namespace=args.metrics_namespace, dead_letter_queue=args.dead_letter_queue,
                   site_names=site_names(args.site_names))


def site_names(text: str | None) -> dict[str, str]:
    """site -> name from `--site-names` (or its variable), checked before anything starts."""
    if not text:
        return {}
    where = f"--site-names (${ENV_SITE_NAMES})"
    try:
        names = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{where}: not JSON ({error})") from None
    if not isinstance(names, dict) or not all(isinstance(v, str) and v.strip() for v in names.values()):
        raise ValueError(f'{where}: give an object of site id -> name, e.g. {{"cafe-7": "Café Central"}}; '
                         f"got {text[:200]}")
    return names


def build_host(args: argparse.Namespace) -> Host:
    return wiring.build_host(log=args.log, url=args.source, state=str(args.state), outlets=outlets(args),
                             config=host_config(args), client=clients(args))


def kcl_processor(args: argparse.Namespace) -> Any:
    return wiring.kcl_processor(str(args.state), outlets(args), host_config(args), clients(args))


def _window_minutes(text: str) -> list[int]:
    try:
        return [int(m) for m in text.split(",")]
    except ValueError:
        raise ValueError(f"--window-minutes {text!r}: give whole minutes separated by commas, e.g. 5,15,60") from None


def _true_or_false(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"give true or false, got {text!r}")
    return text.lower() == "true"


_PARSE: dict[Any, Callable[[str], Any]] = {
    int: int, settings.NUMBER: float, list: str, bool: _true_or_false, str: str}
# The name operators have used for the alarms' window since before the site file had its key.
_ALIASES = {"alarm_window_minutes": "--alarm-window"}


def _flags(row: settings.Threshold) -> list[str]:
    flag = "--" + row.key.replace("_", "-")
    return [_ALIASES[row.key], flag] if row.key in _ALIASES else [flag]


def _default(row: settings.Threshold) -> str:
    if row.key == "alarm_window_minutes":
        return "15, or the longest window when 15 is not one"
    if isinstance(row.default, list):
        return ",".join(map(str, row.default))
    if isinstance(row.default, bool):
        return str(row.default).lower()
    return f"{row.default:g}" if isinstance(row.default, float) else str(row.default)
