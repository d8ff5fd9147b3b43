"""`moodlens batch`: raw events into the Iceberg lake and keeping it tidy (`compact`, `maintain`), and the
analytics over it (`forecast`, `drivers`, from `moodlens.commands.batch_analytics`)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_LOG = Path("var/log")
DEFAULT_STATE = Path("var/stream")
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lake; try again later


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from moodlens.commands.batch_analytics import add_analytics_commands

    group = groups.add_parser("batch", help="the event lake: compaction, maintenance, forecast, drivers")
    commands = group.add_subparsers(dest="command", required=True)
    add_lake_commands(commands)
    add_analytics_commands(commands)


def add_lake_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from schemas.privacy import DEFAULT_RETAIN_DAYS

    compact = commands.add_parser("compact", help="raw events -> Iceberg tables (idempotent, one commit per table)")
    compact.add_argument("--lake", default=None, help="lake folder (default var/lake, or $MOODLENS_LAKE) "
                                                      "or s3://bucket/prefix for Glue + S3")
    source = compact.add_mutually_exclusive_group()
    source.add_argument("--log", type=Path, default=None,
                        help=f"embedded event log (default {DEFAULT_LOG}, plus windows/alarms from --state)")
    source.add_argument("--raw", default=None, help="folder or s3://bucket/prefix of JSON Lines files (plain or .gz)")
    compact.add_argument("--state", type=Path, default=None,
                         help="stream runner state folder for windows and alarms (default: `stream` beside "
                              f"the log, {DEFAULT_STATE} for the default log)")
    compact.add_argument("--since", type=moment, default=None, help="only events at or after (ISO date/time, or 7d)")
    compact.add_argument("--until", type=moment, default=None, help="only events before (ISO date/time, or 1d)")
    compact.add_argument("--from-start", action="store_true",
                         help="re-read the whole embedded log, not only what is new since the last run")
    compact.add_argument("--retain-days", type=int, default=None,
                         help="after compacting, delete partitions older than this and expire snapshots")
    compact.add_argument("--sites", default=None, metavar="JSON",
                         help='after compacting, replace the lake\'s sites table with these sites: '
                              '{"<site>": {"name": ..., "timezone": "Europe/Berlin"}} (the AWS stack\'s --sites)')
    _add_wait(compact)
    compact.set_defaults(handler=run_compact)

    maintain = commands.add_parser("maintain", help="rewrite small files, apply retention, expire snapshots")
    maintain.add_argument("--lake", default=None, help="lake folder or s3://bucket/prefix")
    maintain.add_argument("--retain-days", type=int, default=DEFAULT_RETAIN_DAYS,
                          help=f"delete day partitions older than this (default {DEFAULT_RETAIN_DAYS}; 0: keep all)")
    maintain.add_argument("--orphan-grace-minutes", type=float, default=0.0,
                          help="only delete unreferenced files older than this (default 0: maintenance holds "
                               "the lake's lock, so no compaction is writing; such files are a failed run's)")
    _add_wait(maintain)
    maintain.set_defaults(handler=run_maintain)


def _add_wait(command: argparse.ArgumentParser) -> None:
    from batch.lake.lock import DEFAULT_WAIT_S

    command.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, metavar="SECONDS",
                         help="when another compaction or maintenance holds the lake, wait this long for it "
                              f"(default {DEFAULT_WAIT_S:g}), then exit 75 naming the holder")


def _exclusive(args: argparse.Namespace, purpose: str, work: Callable[[], int]) -> int:
    """`work` under the lake's lock; the lock held too long, or a full disk, as one clear message."""
    from batch.compact.run import DiskFullError, is_disk_full
    from batch.lake.lock import LakeBusyError, lake_lock
    from batch.lake.tables import lake_from_argument

    try:
        with lake_lock(lake_from_argument(args.lake), purpose, args.wait):
            return work()
    except LakeBusyError as busy:
        print(f"moodlens: {purpose}: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except DiskFullError as full:
        print(f"moodlens: error: {purpose}: {full.strerror}", file=sys.stderr)
        return 1
    except OSError as error:
        if not is_disk_full(error):
            raise
        where = f" holding {error.filename}" if getattr(error, "filename", None) else ""
        print(f"moodlens: error: {purpose}: the disk{where} is full ({error}); free space, then run it again",
              file=sys.stderr)
        return 1


def moment(text: str) -> dt.datetime:
    """ISO date or time (UTC unless it says otherwise), or N[dh] meaning that long ago."""
    relative = re.fullmatch(r"(\d+)([dh])", text.strip())
    if relative:
        amount = int(relative.group(1))
        delta = dt.timedelta(days=amount) if relative.group(2) == "d" else dt.timedelta(hours=amount)
        return dt.datetime.now(dt.UTC) - delta
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date/time or N[dh]") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def run_compact(args: argparse.Namespace) -> int:
    from batch.lake.tables import sites_from_json

    sites = sites_from_json(args.sites, "--sites") if args.sites else None  # refused before any work
    return _exclusive(args, "batch compact", lambda: _compact(args, sites))


def _compact(args: argparse.Namespace, sites: pa.Table | None = None) -> int:
    from batch.compact.checkpoint import CHECKPOINT, read_offset, write_offset
    from batch.compact.run import compact
    from batch.compact.sources import (
        LogPosition,
        Source,
        SourceError,
        from_directory,
        from_log,
        from_s3,
        from_stream_state,
    )
    from batch.lake.maintain import maintain_lake
    from batch.lake.tables import ensure_tables, lake_from_argument, open_catalog, write_sites
    from locallog import LocalLog

    errors: list[SourceError] = []
    lake = lake_from_argument(args.lake)
    position: LogPosition | None = None
    log_dir = args.log or DEFAULT_LOG
    if args.raw:
        if str(args.raw).startswith("s3://"):
            import boto3
            sources = [Source(args.raw, from_s3(args.raw, errors, boto3.client("s3")), errors)]
        else:
            sources = [Source(args.raw, from_directory(Path(args.raw), errors), errors)]
    else:
        if not log_dir.is_dir():
            raise FileNotFoundError(f"no event log at {log_dir} (use --log DIR or --raw DIR)")
        local = not lake.properties  # the checkpoint lives beside an embedded lake
        position = LogPosition(start=read_offset(lake.root, log_dir) if local and not args.from_start else 0)
        sources = [Source(str(log_dir), from_log(LocalLog(log_dir), f"log:{log_dir}", position=position), errors)]
        # The stream runner's folder beside the log (var/log + var/stream, <state_dir>/log + stream).
        state = args.state or (log_dir.parent / "stream" if args.log else DEFAULT_STATE)
        if state.is_dir():
            sources.append(Source(str(state), from_stream_state(state), errors))
        elif args.state is not None:
            raise FileNotFoundError(f"no stream state folder at {state}")
    catalog = open_catalog(lake)
    result = compact(catalog, sources, since=args.since, until=args.until)
    for change in result.migrated:
        print(f"migrated: {change}")
    if position is not None and not lake.properties and not (args.since or args.until):
        try:
            write_offset(lake.root, log_dir, position.next)  # every table has committed by now
        except OSError as failed:  # the rows are in; the next run reads these records again and skips them
            raise OSError(failed.errno, failed.strerror, str(lake.root / CHECKPOINT)) from failed
    for name in sorted(result.written):
        print(f"{name:18} +{result.written[name]:>10,} rows  ({result.duplicates.get(name, 0):,} duplicates skipped)")
    print(f"{'quarantine':18} +{result.quarantined:>10,} rows  "
          f"({result.duplicates.get('quarantine', 0):,} already quarantined)")
    rate = result.records / result.seconds if result.seconds else 0.0
    print(f"{result.records:,} records in {result.seconds:.2f} s ({rate:,.0f}/s); "
          f"{result.outside_window:,} outside --since/--until", file=sys.stderr)
    if args.retain_days is not None:
        now = dt.datetime.now(dt.UTC)
        for name, outcome in maintain_lake(ensure_tables(catalog), now, args.retain_days,
                                           grace=dt.timedelta(0)).items():  # under the lake's lock
            if outcome.deleted_rows:
                print(f"retention: {name}: {outcome.deleted_rows:,} rows deleted", file=sys.stderr)
    if sites is not None:  # under the lake's lock, like the compaction itself
        write_sites(catalog, sites)
        print(f"{'sites':18} {sites.num_rows:>11,} rows  (replaced)")
    for error in result.errors:
        print(f"moodlens: error: {error}", file=sys.stderr)
    return 1 if result.needs_attention else 0


def run_maintain(args: argparse.Namespace) -> int:
    return _exclusive(args, "batch maintain", lambda: _maintain(args))


def _maintain(args: argparse.Namespace) -> int:
    from batch.lake.maintain import maintain_lake
    from batch.lake.tables import existing_tables, lake_from_argument, open_catalog

    catalog = open_catalog(lake_from_argument(args.lake))
    results = maintain_lake(existing_tables(catalog), dt.datetime.now(dt.UTC),
                            retain_days=args.retain_days or None,
                            grace=dt.timedelta(minutes=args.orphan_grace_minutes))
    for name, r in results.items():
        for change in r.migrated:
            print(f"migrated: {change}")
        print(f"{name:18} files {r.files_before:>5} -> {r.files_after:<5}"
              f"  partitions rewritten {r.rewritten_partitions:>4}"
              f"  rows deleted {r.deleted_rows:>8,}  snapshots expired {r.expired_snapshots:>3}"
              f"  files deleted {len(r.deleted_files):>4}")
    return 0
