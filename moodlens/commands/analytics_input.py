"""Where `moodlens batch forecast|drivers` and `moodlens report` read events from.

`--lake L` (a folder or s3://bucket/prefix, or $MOODLENS_LAKE): the lake's Iceberg tables, what
`moodlens batch compact` wrote; the analyst's source of truth. Without it, the embedded log (and
the stream runner's alarms) are read straight into a DuckDB connection that carries the lake's
tables under the lake's names, with the lake's Arrow schemas: a quick look at a log that was never
compacted. The queries (`batch.analytics.source`) do not know the difference. Invalid records go to
the `quarantine` table with their reasons, never into the numbers.

The site file (`--config`, else ./moodlens.toml when there is one) gives what the analyst would
otherwise repeat on every command: the lake (`[lake] path`), the fewest customers behind a number
(`[thresholds] min_tracks`), the site's time zone (`[site] timezone`) and the report folder. An
explicit option wins; then $MOODLENS_LAKE for the lake; then the site file; then the defaults.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.privacy import DEFAULT_MIN_TRACKS

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULT_HISTORY = Path("var/history")


@dataclass(frozen=True)
class SiteFile:
    """What the analyst commands take from the site file (or their defaults without one)."""

    path: Path | None
    lake: str | None  # None: $MOODLENS_LAKE or var/lake (lake_from_argument)
    min_tracks: int
    timezone: str
    site_id: str | None
    reports_dir: Path | None
    site_name: str | None = None

    def sites(self) -> pa.Table | None:
        """The `sites` rows the site file declares (one site), for the views' local time."""
        from batch.lake.tables import sites_frame

        if self.site_id is None:
            return None
        return sites_frame([{"site_id": self.site_id, "name": self.site_name or self.site_id,
                            "timezone": self.timezone}])


def add_site_file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=None,
                        help="the site file for the lake, min_tracks, time zone and report folder "
                             "(default ./moodlens.toml when it exists)")


def read_site_file(args: argparse.Namespace, need_lake: bool = True) -> SiteFile:
    """The site file's settings under the command's explicit options; errors name the file and setting.
    `need_lake` False: the events come from elsewhere (an explicit --log), the lake may be missing."""
    from onebox.config import DEFAULT_FILE, load

    explicit: Path | None = getattr(args, "config", None)
    lake: str | None = getattr(args, "lake", None)
    min_tracks: int | None = getattr(args, "min_tracks", None)
    if min_tracks is not None and min_tracks < 1:
        raise ValueError(f"--min-tracks must be at least 1 (customers behind a number), got {min_tracks}")
    path = explicit if explicit is not None else (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    if path is None:
        return SiteFile(None, lake, DEFAULT_MIN_TRACKS if min_tracks is None else min_tracks, "UTC", None, None)
    config = load(path)
    if lake is None and not os.environ.get("MOODLENS_LAKE"):
        lake = str(config.lake_dir)
        if need_lake and not (config.lake_dir / "catalog.db").is_file():
            raise FileNotFoundError(
                f"{path}: [lake] path: no lake at {config.lake_dir} (`moodlens up` compacts the event log into it "
                f"every [lake] compact_every_minutes; or run `moodlens batch compact --lake {config.lake_dir}`)")
    return SiteFile(config.path, lake, config.get("thresholds", "min_tracks") if min_tracks is None else min_tracks,
                    config.get("site", "timezone"), config.site_id, config.reports_dir, config.site_name)


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    add_site_file_argument(parser)
    parser.add_argument("--lake", default=None,
                        help="the lake (a folder or s3://bucket/prefix) written by `moodlens batch compact`; "
                             "default $MOODLENS_LAKE, else the site file's; without any, the event log (--log) "
                             "is read directly")
    parser.add_argument("--log", type=Path, default=None,
                        help="embedded event log to read instead of a lake (default without --lake, $MOODLENS_LAKE "
                             "or a site file: var/history/log, from `moodlens demo history`)")
    parser.add_argument("--stream-state", type=Path, default=None,
                        help="`moodlens stream run --state` folder: its alarms join the --log's events "
                             "(a lake holds its own)")
    add_min_tracks_argument(parser)


def add_min_tracks_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-tracks", type=int, default=None,
                        help="fewest customers behind any number shown, in the views too (default: the site "
                             f"file's [thresholds] min_tracks, else {DEFAULT_MIN_TRACKS})")


def _read_records(args: argparse.Namespace) -> Iterator[tuple[str, bytes]]:
    from locallog import LocalLog, next_offset
    from locallog.stream_outputs import ALARMS

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
        path = state / ALARMS
        if path.is_file():
            with path.open("rb") as handle:
                yield from ((f"{path}:{n}", line.rstrip(b"\n")) for n, line in enumerate(handle, 1))


def connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    """The command's events; also sets args.site_file, args.min_tracks and args.timezone (the zone of
    `--site` where the `sites` table knows it, else the site file's; without a site file, the lake's
    one zone when all its sites share it)."""
    explicit_log = getattr(args, "lake", None) is None and getattr(args, "log", None) is not None
    site = read_site_file(args, need_lake=not explicit_log)
    args.site_file, args.min_tracks, args.timezone = site, site.min_tracks, site.timezone
    if explicit_log or not (site.lake or site.path is not None or os.environ.get("MOODLENS_LAKE")):
        args.log = args.log if args.log is not None else DEFAULT_HISTORY / "log"
        return _log_connection(args)
    if getattr(args, "stream_state", None) is not None:
        raise ValueError("--stream-state joins alarms to an event log (--log) only: a lake holds the alarms "
                         "`moodlens batch compact --state` put in it")
    con = lake_connection(site.lake, site.sites(), site.min_tracks)
    args.timezone = site_zone(con, site, getattr(args, "site", None))
    return con


def site_zones(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each site's own zone from the lake's `sites` relation (none when the events come from a log)."""
    import duckdb

    try:
        return {str(s): str(z) for s, z in con.execute("SELECT site_id, timezone FROM sites").fetchall()}
    except duckdb.Error:
        return {}


def site_zone(con: duckdb.DuckDBPyConnection, site: SiteFile, chosen: str | None) -> str:
    """The zone a command's local days and hours are in: `chosen` site's from the `sites` relation;
    else the site file's; without a site file, the lake's one zone when all its sites share it (a box's
    lake); else UTC."""
    if chosen is not None:
        found = con.execute("SELECT timezone FROM sites WHERE site_id = ?", [chosen]).fetchall()
        return str(found[0][0]) if found else site.timezone
    if site.path is None:
        zones = con.execute("SELECT DISTINCT timezone FROM sites").fetchall()
        return str(zones[0][0]) if len(zones) == 1 else site.timezone
    return site.timezone


def lake_tables(lake: str | None, read_only: bool = True) -> dict[str, Any]:
    """The lake's tables (its `sites` copy included when written); `lake` None: $MOODLENS_LAKE, else var/lake.
    A missing lake is an error naming it, never a new empty lake."""
    from batch.lake.tables import SITES, existing_tables, lake_from_argument, lake_sites, open_catalog

    config = lake_from_argument(lake)
    where = lake or str(config.root)
    if not config.properties and not (config.root / "catalog.db").exists():
        raise FileNotFoundError(f"no lake at {where} (write one with `moodlens batch compact --lake {where}`, "
                                f"or name a site file with --config)")
    catalog = open_catalog(config)
    tables: dict[str, Any] = existing_tables(catalog)
    if "face_expression" not in tables:
        raise FileNotFoundError(f"{where}: the lake has no face_expression table yet; run `moodlens batch compact`")
    sites = lake_sites(catalog)
    if sites is not None:
        tables[SITES] = sites
    return tables


def lake_connection(lake: str | None, sites: pa.Table | None = None,
                    min_tracks: int = DEFAULT_MIN_TRACKS) -> duckdb.DuckDBPyConnection:
    """The lake's tables and views in DuckDB, read-only; `sites` (the site file's) gives local time;
    the views hide numbers over fewer than `min_tracks` customers (the command's, as its own numbers)."""
    from batch.sql.runner import connect as lake_connect

    connection, _ = lake_connect(lake_tables(lake), sites=sites, min_tracks=min_tracks)
    return connection


def _log_connection(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    import duckdb

    from batch.analytics.source import register_events
    from batch.sql.local_time import register_local_time
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
    register_local_time(con)  # local time in the pinned tzdata, as the lake's connections
    register_events(con, valid_events(), quarantine)
    return con
