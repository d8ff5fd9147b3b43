"""Where `moodlens batch forecast|drivers` and `moodlens report` read events from.

`--lake L` (a folder or s3://bucket/prefix, or $MOODLENS_LAKE): the lake's Iceberg tables, what
`moodlens batch compact` wrote; the analyst's source of truth. Without it, the embedded log (and
the stream runner's alarms) are read straight into a DuckDB connection that carries the lake's
tables under the lake's names, with the lake's Arrow schemas: a quick look at a log that was never
compacted. The queries (`batch.analytics.source`) do not know the difference. Invalid records go to
the `quarantine` table with their reasons, never into the numbers.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

DEFAULT_HISTORY = Path("var/history")


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", default=None,
                        help="the lake (a folder or s3://bucket/prefix) written by `moodlens batch compact`; "
                             "without it the event log (--log) is read directly")
    parser.add_argument("--log", type=Path, default=DEFAULT_HISTORY / "log",
                        help="embedded event log to read (default var/history/log, from `moodlens demo history`)")
    parser.add_argument("--stream-state", type=Path, default=None,
                        help="`moodlens stream run --state` folder: its alarms join the tables")
    parser.add_argument("--min-tracks", type=int, default=5,
                        help="fewest customers behind any number shown (default 5, as the stream)")


def _read_records(args: argparse.Namespace) -> Iterator[tuple[str, bytes]]:
    from locallog import LocalLog, next_offset

    if not args.log.is_dir():
        raise FileNotFoundError(f"no event log at {args.log} (make one with `moodlens demo history --out "
                                f"{args.log.parent}`)")
    log, offset = LocalLog(args.log), 0
    while batch := log.read(offset, 20_000):
        yield from ((f"{args.log} offset {o}", payload) for o, payload in batch)
        offset = next_offset(batch, offset)
    state: Path | None = args.stream_state
    if state is not None:
        if not state.is_dir():
            raise FileNotFoundError(f"no stream state folder at {state}")
        # Alarms only: the report computes its own hourly numbers from the visits, and a long replay's
        # windows (a window a minute per key and length) would cost gigabytes to load for nothing.
        path = state / "alarms.jsonl"
        if path.is_file():
            with path.open("rb") as handle:
                yield from ((f"{path}:{n}", line.rstrip(b"\n")) for n, line in enumerate(handle, 1))


def connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    if getattr(args, "lake", None):
        return lake_connection(args.lake)
    return _log_connection(args)


def lake_connection(lake: str | None) -> duckdb.DuckDBPyConnection:
    """The lake's tables and views in DuckDB; `lake` None: $MOODLENS_LAKE, else var/lake."""
    from batch.lake.tables import existing_tables, lake_from_argument, open_catalog
    from batch.sql.runner import connect as lake_connect

    config = lake_from_argument(lake)
    where = lake or str(config.root)
    if not config.properties and not (config.root / "catalog.db").exists():
        raise FileNotFoundError(f"no lake at {where} (write one with `moodlens batch compact --lake {where}`)")
    tables = existing_tables(open_catalog(config))
    if "face_expression" not in tables:
        raise FileNotFoundError(f"{where}: the lake has no face_expression table yet; run `moodlens batch compact`")
    connection, _ = lake_connect(tables)
    return connection


def _log_connection(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    import duckdb

    from batch.analytics.source import register_events
    from schemas.validation import ValidationError, parse_event

    quarantine: list[tuple[str, str]] = []

    def valid_events() -> Iterator[dict[str, Any]]:
        for where, payload in _read_records(args):
            if not payload.strip():
                continue
            try:
                yield parse_event(payload)
            except ValidationError as error:
                quarantine.append((payload.decode("utf-8", "replace")[:2000], f"{where}: {error}"))

    con = duckdb.connect()
    register_events(con, valid_events(), quarantine)
    return con
