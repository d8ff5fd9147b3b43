"""`moodlens sql "SELECT ..."`: DuckDB over the lake's Iceberg tables and views."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sql = groups.add_parser("sql", help="run SQL on the lake (tables and views by name; DuckDB dialect)")
    sql.add_argument("query", nargs="?", help="the query, e.g. \"SELECT count(*) FROM face_expression\"")
    sql.add_argument("--file", type=Path, default=None, help="read the query from this file")
    sql.add_argument("--lake", default=None, help="lake folder (default var/lake) or s3://bucket/prefix")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    sql.add_argument("--stats", action="store_true", help="print files and bytes each table's scan read")
    sql.set_defaults(handler=run_sql)


def run_sql(args: argparse.Namespace) -> int:
    from batch.lake.tables import ensure_tables, lake_from_argument, open_catalog
    from batch.sql.output import FORMATS
    from batch.sql.runner import QueryError, run_query

    if (args.query is None) == (args.file is None):
        print("moodlens sql: give a query or --file, not both", file=sys.stderr)
        return 2
    query = args.file.read_text(encoding="utf-8") if args.file else args.query
    where = str(args.file) if args.file else "query"
    lake = lake_from_argument(args.lake)
    if not lake.properties and not (lake.root / "catalog.db").exists():
        raise FileNotFoundError(f"no lake at {lake.root} (run `moodlens batch compact` first, or pass --lake)")
    tables = ensure_tables(open_catalog(lake))
    try:
        result = run_query(tables, query, threads=args.threads)
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
