"""Weekly report build time and file size on the synthetic history (3 sites x 60 days by default).

    python benchmarks/report_build.py [--sites 3] [--days 60] [--timezone Europe/Berlin] [--out var/bench-report]

Times the build from tables already in DuckDB (the lake's side is measured by the lake's benchmark):
all sites with forecast and drivers, and one site; prints seconds, HTML size and CSV sizes.

    python benchmarks/report_build.py --sites 1 --days 28 --as-of 2026-10-03T09:00 --as-of 2026-10-03T21:00

builds the report as it would be built at those local times (the lake holding the events until
then) and prints its headline beside the truth counted from the events, and beside what a period
ending at the midnight after the latest visit (the earlier rule) would have said.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from batch.analytics.drivers import parse_business_events
from batch.analytics.source import register_events
from batch.analytics.synthetic import HistoryConfig, business_csv_lines, generate_history
from batch.report.build import ReportOptions, build_report, write_report

DAY_MS = 86_400_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--timezone", default="Europe/Berlin", help="the sites' IANA time zone (local days and hours)")
    parser.add_argument("--out", type=Path, default=Path("var/bench-report"))
    parser.add_argument("--as-of", action="append", default=[], help="a local time to build the report at")
    args = parser.parse_args()
    if args.as_of:
        return as_of(args)
    started = time.perf_counter()
    history = generate_history(HistoryConfig(sites=args.sites, days=args.days, seed=1))
    con = duckdb.connect()
    register_events(con, history.events)
    business = parse_business_events(list(business_csv_lines(history)))
    print(f"{len(history.events)} events ({args.sites} sites x {args.days} days) generated and registered in "
          f"{time.perf_counter() - started:.1f} s")
    since = history.end_ms - 7 * DAY_MS
    for label, site, drivers in (("all sites, forecast + drivers", None, business),
                                 (f"one site ({sorted(history.sites)[0]}), forecast", sorted(history.sites)[0], None)):
        started = time.perf_counter()
        report = build_report(con, ReportOptions(since, history.end_ms, site, business=drivers,
                                                 timezone=args.timezone, now_ms=history.end_ms))
        out = args.out / (site or "all")
        written = write_report(report, out)
        elapsed = time.perf_counter() - started
        html = written[0].stat().st_size
        csvs = sum(p.stat().st_size for p in written[1:])
        print(f"{label:<40} {elapsed:6.2f} s   report.html {html / 1024:7.0f} KiB   {len(written) - 1} CSVs "
              f"{csvs / 1024:7.0f} KiB   -> {out}")


def as_of(args: argparse.Namespace) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from moodlens.commands.report import period

    history = generate_history(HistoryConfig(sites=args.sites, days=args.days, seed=1))
    visits = [e["event_time_ms"] for e in history.events if e.get("kind") == "track_end"]
    for text in args.as_of:
        now = int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(args.timezone)).timestamp() * 1000)
        con = duckdb.connect()
        register_events(con, (e for e in history.events if e["event_time_ms"] < now))
        latest = max(e["event_time_ms"] for e in history.events if e["event_time_ms"] < now)  # heartbeats too
        since, until, note = period("7d", None, latest, args.timezone, now)
        report = build_report(con, ReportOptions(since, until, None, forecast=False, timezone=args.timezone,
                                                 now_ms=now, period_note=note))
        head = report.tables["headline"].iloc[0]
        truth = sum(since <= t < until for t in visits), sum(since - (until - since) <= t < since for t in visits)
        old_end = (max(t for t in visits if t < now) // DAY_MS + 1) * DAY_MS
        old = (sum(old_end - 7 * DAY_MS <= t < min(old_end, now) for t in visits),
               sum(old_end - 14 * DAY_MS <= t < old_end - 7 * DAY_MS for t in visits))
        print(f"as of {text} ({args.timezone}): {head['since']} to {head['until']}: visits {head['visits']} against "
              f"{head['visits_before']} ({(head['visits'] - head['visits_before']) / head['visits_before']:+.1%}); "
              f"truth {truth[0]} against {truth[1]} ({(truth[0] - truth[1]) / truth[1]:+.1%}); the earlier rule "
              f"(to the UTC midnight after the latest visit) {old[0]} against {old[1]} "
              f"({(old[0] - old[1]) / old[1]:+.1%})")


if __name__ == "__main__":
    main()
