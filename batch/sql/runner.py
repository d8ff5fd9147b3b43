"""`moodlens sql`: DuckDB over the lake's Iceberg tables, with pyiceberg's partition pruning.

For each table the query names, the simple filters on the partition source columns (`site_id`
=/IN, `event_time` comparisons and BETWEEN with literals, in the WHERE's top-level AND) become
an Iceberg row filter; pyiceberg plans only the data files of matching partitions and DuckDB reads
just those Parquet files (local warehouse) or the Arrow pyiceberg read (S3: DuckDB has no httpfs
here). DuckDB still applies the whole WHERE itself, so pruning only ever skips files that could
not match. The views (`batch/sql/views/`) are registered on top.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.dataset as pa_dataset
import sqlglot
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.table import Table
from sqlglot import exp

from batch.lake.filters import both, either, eq, ge, gt, isin, le, lt
from batch.lake.migrate import require_current
from batch.lake.tables import EVENT_TABLES, QUARANTINE, SITES, SITES_SCHEMA, TIME_COLUMN, table_schema
from batch.sql.local_time import register_local_time
from batch.sql.views import views
from batch.table_schema import lake_name, renamed_fields
from schemas.contract import CONTRACTS
from schemas.privacy import DEFAULT_MIN_TRACKS


class QueryError(ValueError):
    """A query the user must fix (syntax, unknown table or column): the message says where."""


@dataclass
class ScanStats:
    files: int = 0
    bytes: int = 0
    total_files: int = 0
    total_bytes: int = 0
    pruned_by: str = ""
    path: str = ""  # how DuckDB got the rows


@dataclass
class QueryResult:
    table: pa.Table
    scans: dict[str, ScanStats] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)  # lake tables the query names itself


_COMPARISONS: dict[type[exp.Expression], Any] = {exp.EQ: eq, exp.GT: gt, exp.GTE: ge, exp.LT: lt, exp.LTE: le}
_FLIPPED = {gt: lt, lt: gt, ge: le, le: ge, eq: eq}


def _literal(node: exp.Expression, column: str) -> Any:
    """A literal's value for the column, or None when it is not a plain literal."""
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        node = node.this
    if not isinstance(node, exp.Literal) or not node.is_string:
        return None
    text = node.this
    if column == "site_id":
        return text
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


def _term_filter(term: exp.Expression, aliases: set[str]) -> BooleanExpression | None:
    def column_of(node: exp.Expression) -> str | None:
        if isinstance(node, exp.Column) and node.name in ("site_id", TIME_COLUMN) and \
                (not node.table or node.table in aliases):
            return node.name
        return None

    if type(term) in _COMPARISONS:
        op = _COMPARISONS[type(term)]
        for left, right, kind in ((term.this, term.expression, op), (term.expression, term.this, _FLIPPED[op])):
            name = column_of(left)
            value = _literal(right, name) if name else None
            if name and value is not None:
                filtered: BooleanExpression = kind(name, value)
                return filtered
    if isinstance(term, exp.In) and (name := column_of(term.this)):
        values = [_literal(v, name) for v in term.expressions]
        if values and all(v is not None for v in values):
            return isin(name, values)
    if isinstance(term, exp.Between) and (name := column_of(term.this)):
        low, high = _literal(term.args["low"], name), _literal(term.args["high"], name)
        if low is not None and high is not None:
            return both(ge(name, low), le(name, high))
    return None


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    inner: Any = node.unnest()
    if isinstance(inner, exp.And):
        return _conjuncts(inner.this) + _conjuncts(inner.expression)
    return [inner]


def partition_filters(query: str, names: set[str]) -> dict[str, tuple[BooleanExpression, str]]:
    """Per lake table, the row filter implied by every place the query reads it (OR of them)."""
    try:
        statements = sqlglot.parse(query, read="duckdb")
    except sqlglot.errors.ParseError:
        return {}  # DuckDB reports the syntax error with its own, better, message
    found: dict[str, tuple[BooleanExpression, str]] = {}
    for statement in statements:
        if statement is None:
            continue
        for table in statement.find_all(exp.Table):
            if table.name not in names or table.db:
                continue
            select = table.find_ancestor(exp.Select)
            sources = list(select.find_all(exp.Table)) if select else []
            direct = [t for t in sources if t.find_ancestor(exp.Select) is select]
            aliases = {table.alias_or_name, table.name} if len(direct) == 1 else {table.alias_or_name}
            where = select.args.get("where") if select else None
            terms = [(f, t.sql()) for t in _conjuncts(where.this if where else None)
                     if (f := _term_filter(t, aliases))]
            condition: BooleanExpression = AlwaysTrue()
            for term, _ in terms:
                condition = term if isinstance(condition, AlwaysTrue) else both(condition, term)
            text = " AND ".join(sql for _, sql in terms)
            previous = found.get(table.name)
            found[table.name] = (condition, text) if previous is None else \
                (either(previous[0], condition), f"({previous[1] or 'all'}) OR ({text or 'all'})")
    return found


def _register(connection: duckdb.DuckDBPyConnection, name: str, table: Table,
              row_filter: BooleanExpression, described: str, writable: bool = False) -> ScanStats:
    stats = ScanStats(pruned_by=described if not isinstance(row_filter, AlwaysTrue) else "")
    scan = table.scan(row_filter=row_filter)
    tasks = list(scan.plan_files()) if table.current_snapshot() is not None else []
    stats.files, stats.bytes = len(tasks), sum(t.file.file_size_in_bytes for t in tasks)
    stats.total_files, stats.total_bytes = stats.files, stats.bytes
    if stats.pruned_by:  # what the whole table would have cost, for comparison
        everything = list(table.scan().plan_files())
        stats.total_files, stats.total_bytes = len(everything), sum(t.file.file_size_in_bytes for t in everything)
    paths = [urlparse(t.file.file_path) for t in tasks]
    if tasks and all(p.scheme in ("", "file") for p in paths) and not any(t.delete_files for t in tasks):
        if writable:
            # union_by_name: files written before a newer minor added a column read it as NULL
            connection.read_parquet([p.path for p in paths], union_by_name=True).create_view(name)
            stats.path = "DuckDB reads the planned Parquet files"
        else:
            # pyarrow opens the files, so DuckDB itself may touch none (external access off); the
            # table's schema reads a column that older files lack as NULL
            files = pa_dataset.dataset([p.path for p in paths], format="parquet",
                                       schema=table.schema().as_arrow())
            connection.register(name, files)
            stats.path = "DuckDB scans the planned Parquet files through pyarrow"
    else:
        stats.path = "pyarrow reads the planned files (S3 or row deletes), DuckDB scans the Arrow table"
        connection.register(name, scan.to_arrow() if tasks else table.schema().as_arrow().empty_table())
    return stats


def _named(query: str) -> set[str]:
    """Every table-like name the query mentions (all of them when it cannot be parsed here)."""
    try:
        return {t.name for s in sqlglot.parse(query, read="duckdb") if s for t in s.find_all(exp.Table)}
    except sqlglot.errors.ParseError:
        return {v.name for v in views()} | {"face_expression", "camera_heartbeat", "sentiment_window",
                                            "sentiment_alarm", "quarantine"}


def _register_sites(connection: duckdb.DuckDBPyConnection, tables: dict[str, Table], sites: pa.Table | None) -> None:
    """`sites` from the site file where it names a site (its owner), else the lake's copy; a site in
    neither is UTC (the views' coalesce)."""
    stored = tables[SITES].scan().to_arrow().cast(SITES_SCHEMA) if SITES in tables else SITES_SCHEMA.empty_table()
    if sites is not None:
        given = set(sites.column("site_id").to_pylist())
        keep = [i for i, s in enumerate(stored.column("site_id").to_pylist()) if s not in given]
        stored = pa.concat_tables([sites.select(SITES_SCHEMA.names).cast(SITES_SCHEMA),
                                   stored.take(pa.array(keep, pa.int64()))])
    connection.register(SITES, stored)


def lock_down(connection: duckdb.DuckDBPyConnection) -> None:
    """No file, database or extension beyond what is registered, for good: the lake's files are
    read through pyarrow, so a query can neither read /etc/passwd nor COPY over a Parquet file."""
    connection.execute("SET enable_external_access = false")
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET lock_configuration = true")


# Tables whose rows are single customers, or windows whose differences give single customers back
# (a site's window minus its shown cameras', a window minus the one a minute earlier): never suppressed.
PER_CUSTOMER = ("face_expression", "quarantine", "sentiment_window")


def _hidden_names(names: set[str]) -> dict[str, str]:
    """A per-connection name for each per-customer table the views read: the views find it, a query
    naming the table does not."""
    token = secrets.token_hex(8)
    return {name: f"_{name}_{token}" for name in names if name in PER_CUSTOMER}


def _renamed(sql: str, names: dict[str, str]) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    for table in tree.find_all(exp.Table):
        if table.name in names and not table.db:
            table.set("this", exp.to_identifier(names[table.name]))
    return tree.sql(dialect="duckdb")


def refuse_per_customer(query: str) -> None:
    """A query that names a per-customer table without `raw`: the message says why and how."""
    try:
        statements = sqlglot.parse(query, read="duckdb")
    except sqlglot.errors.ParseError:
        return  # DuckDB reports the syntax error; the tables are not there under their names anyway
    named = sorted({t.name for s in statements if s for t in s.find_all(exp.Table)} & set(PER_CUSTOMER))
    if named:
        raise QueryError(_refusal(named))


def _refusal(named: list[str]) -> str:
    return (f"{', '.join(named)}: one row per customer or per window, never suppressed (track ids, times, each "
            "face's expression; windows whose differences give one customer back), so not open by default. The "
            f"views ({', '.join(v.name for v in views())}) hide every measure over fewer than min_tracks "
            "customers; --raw opens the tables (the lake's own files hold the same rows: see README, privacy)")


def connect(tables: dict[str, Table], query: str | None = None, threads: int | None = None,
            sites: pa.Table | None = None, writable: bool = False, min_tracks: int = DEFAULT_MIN_TRACKS,
            raw: bool = True) -> tuple[duckdb.DuckDBPyConnection, dict[str, ScanStats]]:
    """A DuckDB connection with the lake's tables and views under their names, locked down (see
    `lock_down`) unless `writable`. `raw` False: the per-customer tables (`PER_CUSTOMER`) are there
    only for the views, under names a query does not know (`moodlens sql` without --raw).

    With `query`, only the tables it needs are planned, pruned by its partition filters; without,
    every table and view is registered whole (e.g. for the analytics and the report). `sites` (the
    site file's, `sites_frame`) gives each site its time zone; the views' local columns use it.
    `min_tracks`: the fewest customers behind a number the views show (the site's setting, as the
    report and the stream use it).
    """
    require_current(tables)
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        register_local_time(connection)  # the views' local time, and the user's (before the lock)
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        events = {n: t for n, t in tables.items() if n != SITES}
        filters = partition_filters(query, set(events)) if query is not None else {}
        named = _named(query) if query is not None else {v.name for v in views()} | set(events)
        available = set(events) | {SITES}
        used_views = [v for v in views(min_tracks) if v.name in named and v.tables() <= available]
        needed = (named | {t for v in used_views for t in v.tables()}) & set(events)
        hidden = {} if raw else _hidden_names(needed)
        scans = {name: _register(connection, hidden.get(name, name), events[name],
                                 *filters.get(name, (AlwaysTrue(), "")), writable=writable)
                 for name in sorted(needed)}
        _register_sites(connection, tables, sites)
        for view in used_views:
            text = _renamed(view.duckdb(), hidden) if hidden else view.duckdb()
            connection.execute(f'CREATE VIEW "{view.name}" AS {text}')  # nosec B608: our own view files
        if not writable:
            lock_down(connection)
    except BaseException:
        connection.close()
        raise
    return connection, scans


_MISSING_TABLE = re.compile(r'Table with name (\S+) does not exist')
_WIRE_COLUMN = re.compile(r'Referenced column "?(\w+)"? not found')
# The contract's (wire) name of each instant, and the lake's column for it.
_INSTANTS = {old: lake_name(spec) for contract in CONTRACTS.values() for old, spec in renamed_fields(contract).items()}


def _explained(error: duckdb.Error, raw: bool = True) -> str:
    """DuckDB's message, with the nearest of the lake's tables and views for an unknown one
    (DuckDB's own guess reaches into its catalog: "pg_description" for "visit")."""
    text = str(error)
    missing = _MISSING_TABLE.search(text)
    wire = _WIRE_COLUMN.search(text)
    if wire is not None and wire.group(1) in _INSTANTS:
        column = _INSTANTS[wire.group(1)]
        return (f"{text}\n(the lake's column is {column}, an instant (timestamp with time zone), not milliseconds: "
                f"epoch_ms({column}) gives the epoch milliseconds of the wire's {wire.group(1)})")
    if missing is None:
        if "TIMESTAMP WITH TIME ZONE" in text and ("No function matches" in text or "Cannot compare" in text):
            text += (f"\n(every time column of the lake holds an instant ({TIME_COLUMN}, window_start, window_end): "
                     f"epoch_ms({TIME_COLUMN}) gives epoch milliseconds, local_time({TIME_COLUMN}, 'Europe/Berlin') "
                     "a local time; a duration is an integer named with its unit, duration_ms)")
        return text
    name = missing.group(1).strip('"')
    if name in PER_CUSTOMER and not raw:  # named where the parser does not see a table (query_table('face_expression'))
        return _refusal([name])
    ours = [*TABLE_NAMES, *(v.name for v in views())]
    near = difflib.get_close_matches(name, ours, n=1, cutoff=0.5) or \
        [n for n in ours if name.lower() in n or n in name.lower()][:1]
    hint = f'did you mean "{near[0]}"? ' if near else ""
    return f'no table or view "{name}" in the lake: {hint}`moodlens sql --tables` lists them all'


def run_query(tables: dict[str, Table], query: str, threads: int | None = None,
              sites: pa.Table | None = None, writable: bool = False,
              min_tracks: int = DEFAULT_MIN_TRACKS, raw: bool = True) -> QueryResult:
    """Runs `query` (DuckDB SQL; the lake's tables and views by name) and returns Arrow. `raw` False:
    the per-customer tables are refused (`refuse_per_customer`), the views read them."""
    if _is_show_tables(query):
        return QueryResult(describe_tables(tables, min_tracks, raw))
    if not raw:
        refuse_per_customer(query)
    connection, scans = connect(tables, query, threads, sites, writable, min_tracks, raw)
    try:
        try:
            relation = connection.sql(query)
        except duckdb.Error as error:
            raise QueryError(_explained(error, raw)) from None
        result = relation.to_arrow_table() if relation is not None else pa.table({})
        return QueryResult(result, scans, set(partition_filters(query, set(tables))))
    finally:
        connection.close()


def _is_show_tables(query: str) -> bool:
    return re.fullmatch(r"\s*SHOW\s+(ALL\s+)?TABLES\s*;?\s*", query, flags=re.IGNORECASE) is not None


TABLE_NAMES = ("face_expression", "camera_heartbeat", "sentiment_window", "sentiment_alarm", "quarantine", SITES)
_TABLE_HELP = {
    "face_expression": "one row per face event; kind = 'track_end' is one customer visit (valence, top_class); "
                       f"{TIME_COLUMN}, as in every table, is an instant (epoch_ms() gives milliseconds)",
    "camera_heartbeat": "each camera's periodic heartbeat: an hour without one is an offline hour",
    "sentiment_window": "the stream's windows per site/camera, window_start to window_end (instants): tracks, "
                        "net score, insufficient_data",
    "sentiment_alarm": "alarm state changes (ALARM / OK) per site, camera and rule",
    "quarantine": "records refused by the event contract, with their reasons (never in the numbers)",
    SITES: "each site's name and IANA time zone (from the site file): local_time(instant, timezone) gives the "
           "local time in the pinned tzdata, as the views, report and page (DuckDB's own AT TIME ZONE uses "
           "DuckDB's zone data, which can differ)",
}


def describe_tables(tables: dict[str, Table], min_tracks: int = DEFAULT_MIN_TRACKS, raw: bool = True) -> pa.Table:
    """Every table and view the lake offers: kind, name, columns (name type) and one line about it;
    `raw` False: the per-customer tables as kind "raw table", opened by --raw."""
    require_current(tables)
    rows: list[dict[str, str]] = []
    for name in TABLE_NAMES:
        if name in PER_CUSTOMER and not raw:
            if name in tables:
                rows.append({"kind": "raw table", "name": name, "columns": "",
                             "description": "one row per customer or window, never suppressed: --raw opens it"})
            continue
        if name in tables:
            fields = tables[name].schema().as_arrow()
        elif name == SITES:
            fields = SITES_SCHEMA
        else:
            continue
        rows.append({"kind": "table", "name": name, "description": _TABLE_HELP[name],
                     "columns": "; ".join(f"{f.name} {f.type}" for f in fields)})
    for view, columns in view_columns(tables).items():
        rows.append({"kind": "view", "name": view, "description": _view_help(view, min_tracks),
                     "columns": "; ".join(f"{n} {t}" for n, t in columns)})
    return pa.Table.from_pylist(rows, schema=pa.schema([("kind", pa.string()), ("name", pa.string()),
                                                        ("description", pa.string()), ("columns", pa.string())]))


def _view_help(name: str, min_tracks: int) -> str:
    view = next(v for v in views(min_tracks) if v.name == name)
    return view.summary


def view_columns(tables: dict[str, Table]) -> dict[str, list[tuple[str, str]]]:
    """Each view's output columns and DuckDB types (for the Glue view definitions)."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        register_local_time(connection)
        for name in (*EVENT_TABLES, QUARANTINE):
            schema = tables[name].schema().as_arrow() if name in tables else table_schema(name)
            connection.register(name, schema.empty_table())
        connection.register(SITES, SITES_SCHEMA.empty_table())
        out = {}
        for view in views():
            connection.execute(f'CREATE VIEW "{view.name}" AS {view.duckdb()}')  # nosec B608: our own view files
            out[view.name] = [(row[0], row[1]) for row in connection.execute(f'DESCRIBE "{view.name}"').fetchall()]
        return out
    finally:
        connection.close()
