"""Weekly report build time and file size on the synthetic history (3 sites x 60 days by default).

    python benchmarks/report_build.py [--sites 3] [--days 60] [--timezone Europe/Berlin] [--out var/bench-report]

Times the build from tables already in DuckDB (the lake's side is measured by the lake's benchmark):
all sites with forecast and drivers, and one site; prints seconds, HTML size and CSV sizes.
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
