"""Where `moodlens batch forecast|drivers` and `moodlens report` read events from.

Until the lake is wired in, the analytics read the embedded log (and the stream runner's alarms)
into a DuckDB connection that carries the lake's tables under the lake's names, with the lake's
Arrow schemas; the queries (`batch.analytics.source`) do not know the difference. Invalid
records go to the `quarantine` table with their reasons, never into the numbers (they are the records
the stream dead-letters; its deadletter.jsonl is not read as well, which would count them twice).
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
