"""Where DuckDB's own zone data and the pinned tzdata (Python's zoneinfo) disagree about local time.

    .venv/bin/python benchmarks/zone_data_agreement.py [--from 1990-01-01] [--to 2037-01-01] [--step-hours 6]

The lake's views and model drift's days take local time in DuckDB (Athena: Trino's own zone data);
the report's periods, the page and the CloudWatch stamps take it in Python. Every zone the site check
accepts (`schemas.time_zones`) is compared at every step; prints each zone that differs, how many
instants and the first and last of them, and the two engines' versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import sys
import zoneinfo
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.time_zones import time_zone_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="start", default="1990-01-01")
    parser.add_argument("--to", dest="end", default="2037-01-01")
    parser.add_argument("--step-hours", type=int, default=6)
    args = parser.parse_args()
    start = dt.datetime.fromisoformat(args.start).replace(tzinfo=dt.UTC)
    end = dt.datetime.fromisoformat(args.end).replace(tzinfo=dt.UTC)
    step = dt.timedelta(hours=args.step_hours)
    instants = [start + step * k for k in range(int((end - start) / step))]
    zones = sorted(z for z in zoneinfo.available_timezones() if time_zone_problem(z) is None)
    con = duckdb.connect()
    differ = 0
    print(f"duckdb {duckdb.__version__}, tzdata {importlib.metadata.version('tzdata')}: {len(zones)} zones, "
          f"{len(instants)} instants from {start:%Y-%m-%d} to {end:%Y-%m-%d} every {args.step_hours} h")
    for zone in zones:
        local = zoneinfo.ZoneInfo(zone)
        rows = con.execute("SELECT t AT TIME ZONE ? FROM unnest(?::TIMESTAMPTZ[]) AS u(t)", [zone, instants]).fetchall()
        wrong = [m for m, (sql,) in zip(instants, rows, strict=True) if sql != m.astimezone(local).replace(tzinfo=None)]
        if wrong:
            differ += 1
            print(f"{zone:<24} {len(wrong):>6} instants differ, {wrong[0]:%Y-%m-%d %H:%M} to "
                  f"{wrong[-1]:%Y-%m-%d %H:%M} UTC")
    print(f"{differ} of {len(zones)} zones differ somewhere")


if __name__ == "__main__":
    main()
