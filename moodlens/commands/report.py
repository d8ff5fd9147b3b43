"""`moodlens report`: the weekly report of one site or all sites, as one HTML file plus CSVs (and a PDF).

Like with like: by default the period is complete local days, ending at the last local midnight
the data and the clock have both passed (today, still running, is left out). An --until later
than now is cut to the last full hour, and the period before it is then exactly as long: a period
to date against the same elapsed hours. The subtitle says which.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from moodlens.commands.analytics_input import add_input_arguments, connect, site_zones
from moodlens.commands.batch_analytics import check_site

DAY_MS = 86_400_000
_DURATION = re.compile(r"^(\d+)([hdw])$")
_UNIT_MS = {"h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = groups.add_parser("report", help="the weekly report: one offline HTML file, CSV exports, a PDF")
    add_input_arguments(report)
    report.add_argument("--since", default="7d", help="period: 7d, 48h, 2w, or a local date (default 7d)")
    report.add_argument("--until", default=None,
                        help="end of the period, a local date or time (default: the last local midnight both the "
                             "data and the clock have passed)")
    report.add_argument("--site", default=None, help="one site (default: every site, with a league table)")
    report.add_argument("--out", default=None,
                        help="output folder, or s3://bucket/prefix/ to upload there (default: the site file's "
                             "[report] output_dir, else var/report)")
    report.add_argument("--dated", action="store_true",
                        help="with an s3:// --out: upload into a folder named after today's UTC date "
                             "(prefix/YYYY-MM-DD/), so a scheduled report keeps the earlier ones instead of "
                             "replacing them")
    report.add_argument("--paper", choices=("A4", "Letter"), default="A4", help="PDF page size (default A4)")
    report.add_argument("--events", type=Path, default=None, help="business events CSV: adds the drivers section")
    report.add_argument("--no-forecast", action="store_true", help="leave the forecast section out")
    report.add_argument("--pdf", action="store_true", help="also print report.pdf with headless Chromium")
    report.set_defaults(handler=run_report)


def _parse_time(text: str, what: str, timezone: str = "UTC") -> int:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is neither a duration like 7d/48h/2w nor a date like 2026-11-01") from None
    if stamp.tzinfo is None:  # a wall-clock time at the site
        stamp = stamp.replace(tzinfo=ZoneInfo(timezone))
    return int(stamp.timestamp() * 1000)


def local_days_before(ms: int, timezone: str, days: int) -> int:
    """The same local wall-clock time `days` calendar days before `ms` (a week with a DST change
    is 167 or 169 hours long, not 168)."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)
    before = local.replace(tzinfo=None) - timedelta(days=days)
    return int(before.replace(tzinfo=zone).timestamp() * 1000)


def local_midnight(ms: int, timezone: str, days_after: int = 0) -> int:
    """The local midnight that starts the day of `ms`, `days_after` calendar days later (DST-proof)."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).date() + timedelta(days=days_after)
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def period(since: str, until: str | None, latest_ms: int | None, timezone: str = "UTC",
           now_ms: int | None = None) -> tuple[int, int, str]:
    """[start, end) and how it was chosen (complete local days, or to date against the same hours)."""
    note = "complete local days, compared with the same days before"
    if until is not None:
        end = _parse_time(until, "--until", timezone)
        if now_ms is not None and end > now_ms:
            end = now_ms // 3_600_000 * 3_600_000
            note = "to date (up to the last full hour), compared with the same elapsed hours before"
    elif latest_ms is not None:
        # the last local midnight that both the data (its latest hour, over) and the clock have passed
        data_end = (latest_ms // 3_600_000 + 1) * 3_600_000
        end = local_midnight(data_end if now_ms is None else min(data_end, now_ms), timezone)
        if end < local_midnight(data_end - 1, timezone, 1):
            today = now_ms is not None and local_midnight(now_ms, timezone) == end
            note = ("complete local days (the last day, " + ("today, still running" if today else
                    "only partly in the data") + ", is left out), compared with the same days before")
    else:
        raise ValueError("no visits in the data: give --until, or make some history first")
    match = _DURATION.match(since.strip())
    if match and match.group(2) in "dw":
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        start = local_days_before(end, timezone, days)
    elif match:
        start = end - int(match.group(1)) * _UNIT_MS[match.group(2)]
    else:
        start = _parse_time(since, "--since", timezone)
    if start >= end:
        raise ValueError(f"--since {since} is not before the end of the period")
    return start, end, note


def _drift_baseline() -> Any:
    """The shipped model's drift baseline (its card), for the report's model drift table."""
    from batch.drift import Baseline
    from edge.expression.classifier import DEFAULT_MODEL

    try:
        return Baseline.from_card_file(DEFAULT_MODEL.with_suffix(".json"))
    except (OSError, ValueError):
        return None  # a card without a baseline: the report leaves model drift out


def run_report(args: argparse.Namespace) -> int:
    from batch.analytics.drivers import read_business_events, zone_mismatch
    from batch.analytics.forecast import history_end_ms
    from batch.analytics.source import heartbeat_lifetimes, known_sites, latest_event_ms
    from batch.report.build import ReportOptions, build_report, write_report
    from batch.report.chromium import print_pdf
    from batch.report.publish import parse_s3_prefix, upload

    if args.dated and not str(args.out).startswith("s3://"):
        raise ValueError(f"--dated names an S3 folder by the day: give --out s3://bucket/prefix/, not {args.out}")
    started = time.perf_counter()
    business = read_business_events(args.events) if args.events else None
    con = connect(args)
    if business is not None and (warning := zone_mismatch(business, args.timezone, str(args.events))) is not None:
        print(f"warning: {warning}", file=sys.stderr)
    check_site(args.site, known_sites(con))
    latest = latest_event_ms(con)
    # how far the data reaches: heartbeats too, or a café closed in the evening would look unfinished
    beat = heartbeat_lifetimes(con)[1]
    reach = max(t for t in (latest, beat) if t is not None) if latest is not None else None
    now_ms = int(time.time() * 1000)
    since_ms, until_ms, note = period(args.since, args.until, reach, args.timezone, now_ms)
    report = build_report(con, ReportOptions(
        since_ms, until_ms, args.site, args.min_tracks, business, not args.no_forecast, _drift_baseline(),
        forecast_from_ms=history_end_ms(latest, now_ms) if latest is not None else None, timezone=args.timezone,
        now_ms=now_ms, period_note=note, paper=args.paper, site_zones=tuple(site_zones(con).items())))
    if args.out is None:
        reports = args.site_file.reports_dir
        args.out = str(reports) if reports is not None else "var/report"
    remote = str(args.out).startswith("s3://")
    if remote:
        bucket, prefix = parse_s3_prefix(args.out)  # a bad location fails before the work, not after
        if args.dated:
            args.out = f"s3://{bucket}/{prefix}{datetime.fromtimestamp(now_ms / 1000, UTC):%Y-%m-%d}/"
    with tempfile.TemporaryDirectory(prefix="moodlens-report-") as scratch:
        folder = Path(scratch) if remote else Path(args.out)
        written = write_report(report, folder)
        html = written[0]
        where = "" if remote else f" in {folder}/"
        print(f"report: {html if not remote else html.name} ({html.stat().st_size / 1024:.0f} KiB), "
              f"{len(written) - 1} CSV exports{where} ({time.perf_counter() - started:.1f} s)")
        if args.pdf:
            pdf = print_pdf(html, folder / "report.pdf")
            written.append(pdf)
            print(f"pdf: {pdf.name} ({pdf.stat().st_size / 1024:.0f} KiB)")
        if remote:
            uploaded = upload(written, args.out)
            print(f"uploaded {len(uploaded)} files to {args.out} ({uploaded[0]})")
    return 0
