"""`moodlens sql "SELECT ..."`: DuckDB over the lake's Iceberg tables and views, read-only."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moodlens.commands.analytics_input import add_min_tracks_argument, add_site_file_argument


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sql = groups.add_parser("sql", help="run SQL on the lake (tables and views by name; DuckDB dialect)",
                            epilog="Local time: local_time(instant, zone), e.g. local_time(f.event_time, "
                                   "s.timezone) of face_expression (--raw) joined to sites, gives a site's local "
                                   "timestamp in the pinned tzdata, as the views, the report and the page. DuckDB's "
                                   "own `instant AT TIME ZONE zone` uses DuckDB's zone data, which differs for a few "
                                   "zones and years.")
    sql.add_argument("query", nargs="?", help="the query, e.g. \"SELECT * FROM visits\"")
    sql.add_argument("--file", type=Path, default=None, help="read the query from this file")
    add_site_file_argument(sql)
    sql.add_argument("--lake", default=None,
                     help="lake folder or s3://bucket/prefix (default: $MOODLENS_LAKE, the site file's, else var/lake)")
    add_min_tracks_argument(sql)
    sql.add_argument("--tables", action="store_true", help="list every table and view with its columns")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    sql.add_argument("--stats", action="store_true", help="print files and bytes each table's scan read")
    sql.add_argument("--raw", action="store_true",
                     help="open the per-customer tables too (face_expression, quarantine, sentiment_window): one row "
                          "per face or window, never suppressed; without it, only the views (which hide every "
                          "measure over fewer than min_tracks customers), sites, camera_heartbeat and sentiment_alarm")
    sql.add_argument("--allow-file-access", action="store_true",
                     help="let the query read and write files, attach databases and load extensions (off by "
                          "default: a COPY over a lake file would silently lose rows)")
    sql.set_defaults(handler=run_sql)


def run_sql(args: argparse.Namespace) -> int:
    from batch.sql.output import FORMATS, as_catalog
    from batch.sql.runner import QueryError, describe_tables, run_query
    from moodlens.commands.analytics_input import lake_tables, read_site_file

    if args.tables:
        if args.query is not None or args.file is not None:
            print("moodlens sql: --tables takes no query", file=sys.stderr)
            return 2
    elif (args.query is None) == (args.file is None):
        print("moodlens sql: give a query or --file, not both", file=sys.stderr)
        return 2
    site = read_site_file(args)
    tables = lake_tables(site.lake)
    if args.tables:
        catalog = describe_tables(tables, site.min_tracks, raw=args.raw)
        print(as_catalog(catalog) if args.format == "table" else FORMATS[args.format](catalog))
        return 0
    query = args.file.read_text(encoding="utf-8") if args.file else args.query
    where = str(args.file) if args.file else "query"
    try:
        result = run_query(tables, query, threads=args.threads, sites=site.sites(),
                           writable=args.allow_file_access, min_tracks=site.min_tracks, raw=args.raw)
    except QueryError as error:
        print(f"moodlens sql: {where}: {error}", file=sys.stderr)
        return 2
    print(FORMATS[args.format](result.table))
    if args.stats:
        for name, scan in result.scans.items():
            if name in result.referenced:
                print(f"{name}: read {scan.files} of {scan.total_files} files, {scan.bytes:,} of "
                      f"{scan.total_bytes:,} bytes" + (f" (pruned by {scan.pruned_by})" if scan.pruned_by else "")
                      + f"; {scan.path or 'empty table'}",
                      file=sys.stderr)
    return 0
