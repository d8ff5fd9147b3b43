"""Where the zone databases the project could meet disagree with the pinned tzdata about local time.

    .venv/bin/python benchmarks/zone_data_agreement.py [--from 1990-01-01] [--to 2037-01-01] [--step-hours 6]

The reference is Python's zoneinfo reading the pinned tzdata package (importing `schemas` points zoneinfo
there alone). Against it, at every step, for every zone the site check accepts (`schemas.time_zones`):
the project's `local_time` (the views' and model drift's local time in DuckDB: should agree everywhere),
DuckDB's own `AT TIME ZONE` (its ICU data: what the views used before, and what a user's own
`AT TIME ZONE` in `moodlens sql` still gets) and the system's zone folder (/usr/share/zoneinfo, where
zoneinfo would look first if it were not pinned). Athena's Trino uses Java's zone data, not measured
here. Prints each zone that differs, how many instants and the first and last of them, and the versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import subprocess  # nosec B404: dpkg-query, for the system zone data's version
import sys
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch.sql.local_time import register_local_time
from schemas.time_zones import time_zone_problem

SYSTEM_ZONES = Path("/usr/share/zoneinfo")

Local = list[dt.datetime | None]


def _system_version() -> str:
    try:
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "tzdata"],  # nosec B603 B607
                               capture_output=True, text=True, check=False)
        return found.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _system(zone: str, instants: list[dt.datetime]) -> Local:
    path = SYSTEM_ZONES / zone
    if not path.is_file():
        return [None] * len(instants)
    with path.open("rb") as handle:
        info = zoneinfo.ZoneInfo.from_file(handle, key=zone)
    return [m.astimezone(info).replace(tzinfo=None) for m in instants]


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
    con.execute("SET TimeZone = 'UTC'")
    register_local_time(con)
    con.execute("CREATE TABLE instants AS SELECT unnest(?::TIMESTAMPTZ[]) AS t", [instants])

    def sql(expression: str) -> Callable[[str, list[dt.datetime]], Local]:
        def run(zone: str, _: list[dt.datetime]) -> Local:
            rows = con.execute(f"SELECT {expression} FROM instants", [zone]).fetchall()  # nosec B608: ours
            return [r[0] for r in rows]
        return run

    sources = {"local_time": sql("local_time(t, ?)"), "duckdb AT TIME ZONE": sql("t AT TIME ZONE ?"),
               "system zoneinfo": _system}
    print(f"reference: zoneinfo on the pinned tzdata {importlib.metadata.version('tzdata')}; duckdb "
          f"{duckdb.__version__}; system tzdata {_system_version()}: {len(zones)} zones, {len(instants)} instants "
          f"from {start:%Y-%m-%d} to {end:%Y-%m-%d} every {args.step_hours} h")
    differ: dict[str, list[str]] = {name: [] for name in sources}
    for zone in zones:
        pinned = zoneinfo.ZoneInfo(zone)
        reference = [m.astimezone(pinned).replace(tzinfo=None) for m in instants]
        for name, source in sources.items():
            got = source(zone, instants)
            wrong = [m for m, a, b in zip(instants, got, reference, strict=True) if a != b]
            if wrong:
                differ[name].append(zone)
                print(f"{name:<20} {zone:<24} {len(wrong):>6} instants differ, {wrong[0]:%Y-%m-%d %H:%M} to "
                      f"{wrong[-1]:%Y-%m-%d %H:%M} UTC")
    for name, found in differ.items():
        print(f"{name}: {len(found)} of {len(zones)} zones differ from the pinned tzdata somewhere")


if __name__ == "__main__":
    main()
