"""Opens the lake's catalog and creates or evolves its Iceberg tables from the event contract.

One definition: every event table's schema is `batch.table_schema.arrow_schema(contract)` with the
event time stored as an Iceberg `timestamptz` (microseconds, the only precision Iceberg has).
Partitioning is hidden: day(event_time_ms) and site_id, so a query filtering on either prunes
files without knowing the layout. A newer minor version of the contract only adds nullable
columns; `ensure_tables` adds them to existing tables (old files read them as NULL).
"""

from __future__ import annotations

import contextlib
import itertools
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform

from batch.table_schema import arrow_schema
from schemas.contract import CONTRACTS, EventContract
from schemas.time_zones import time_zone_problem

NAMESPACE = "moodlens"
EVENT_TABLES: tuple[str, ...] = ("face_expression", "camera_heartbeat", "sentiment_window", "sentiment_alarm")
QUARANTINE = "quarantine"
TIME_COLUMN = "event_time_ms"
DEFAULT_LAKE = Path("var/lake")
TARGET_FILE_BYTES = 128 * 1024 * 1024
CREATE_ATTEMPTS = 5

TABLE_PROPERTIES = {
    "write.parquet.compression-codec": "zstd",
    # Level 1, not zstd's default 3: on 200 k edge rows it writes 8% faster (0.386 against 0.419 us
    # a row, one core) and the file came out smaller (1.46 against 1.68 MB).
    "write.parquet.compression-level": "1",
    "write.target-file-size-bytes": str(TARGET_FILE_BYTES),
    # Old metadata files name old data files; keep few so retention really forgets.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
}

# Invalid records, kept with their reasons: what arrived, from where, and why it was refused.
QUARANTINE_SCHEMA = pa.schema([
    pa.field("record_id", pa.string(), nullable=False, metadata={"description": "sha256 of the raw bytes"}),
    pa.field("source", pa.string(), nullable=False),
    pa.field("line", pa.int64(), nullable=False),
    pa.field("reasons", pa.list_(pa.string()), nullable=False),
    pa.field("raw", pa.string(), nullable=False),
    pa.field("schema", pa.string()),
    pa.field("site_id", pa.string()),
    pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
])


# Each site's name and time zone, as the site file declares them: the lake keeps instants, and
# this table turns them into local dates and hours (the views join it). Small; rewritten whole.
SITES = "sites"
SITES_SCHEMA = pa.schema([
    pa.field("site_id", pa.string(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("timezone", pa.string(), nullable=False, metadata={"description": "IANA zone name"}),
    pa.field("opening_hours", pa.string(), metadata={"description": "as the site file gives them, if any"}),
])


def sites_frame(rows: list[dict[str, str | None]]) -> pa.Table:
    """The `sites` rows as Arrow: site_id, name, timezone (checked by `schemas.time_zones`), opening_hours."""
    for row in rows:
        if (problem := time_zone_problem(row.get("timezone"))) is not None:
            raise ValueError(f"sites: site {row.get('site_id')!r}: timezone: {problem}")
    return pa.Table.from_pylist([{n: row.get(n) for n in SITES_SCHEMA.names} for row in rows], schema=SITES_SCHEMA)


def sites_from_json(text: str, where: str) -> pa.Table:
    """`{"<site id>": {"name": "...", "timezone": "Europe/Berlin", "opening_hours": "..."}, ...}` (the
    AWS stack's `--sites` file) as `sites` rows; `where` names the file or option in the messages."""
    import json

    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{where}: not JSON ({error})") from None
    if not isinstance(document, dict) or not document:
        raise ValueError(f"{where}: give an object of site id -> {{\"name\": ..., \"timezone\": ...}}")
    rows: list[dict[str, str | None]] = []
    for site, fields in sorted(document.items()):
        if not isinstance(fields, dict) or "timezone" not in fields:
            raise ValueError(f"{where}: site {site!r}: give at least its \"timezone\" (IANA, e.g. Europe/Berlin)")
        unknown = set(fields) - {"name", "timezone", "opening_hours"}
        if unknown:
            raise ValueError(f"{where}: site {site!r}: unknown field(s) {sorted(unknown)}; known: name, timezone, "
                             "opening_hours")
        rows.append({"site_id": site, "name": fields.get("name") or site, "timezone": fields["timezone"],
                     "opening_hours": fields.get("opening_hours")})
    try:
        return sites_frame(rows)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def write_sites(catalog: Catalog, sites: pa.Table) -> Table:
    """Replaces the lake's `sites` table (Athena's views join it; `moodlens sql` prefers the site file)."""
    try:
        table = catalog.load_table(identifier(SITES))
    except NoSuchTableError:
        table = catalog.create_table(identifier(SITES), schema=SITES_SCHEMA)
    with warnings.catch_warnings():  # pyiceberg warns when an overwrite replaces nothing (a new lake): not news
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        table.overwrite(sites)
    return table


def lake_sites(catalog: Catalog) -> Table | None:
    """The lake's `sites` table, None before one was written."""
    try:
        return catalog.load_table(identifier(SITES))
    except NoSuchTableError:
        return None


@dataclass(frozen=True)
class LakeConfig:
    """Where the catalog and the warehouse are. `properties` wins: Glue/S3 on AWS."""

    root: Path = DEFAULT_LAKE
    properties: tuple[tuple[str, str], ...] = ()

    def catalog_properties(self) -> dict[str, str]:
        if self.properties:
            return dict(self.properties)
        root = self.root.resolve()
        return {"type": "sql", "uri": f"sqlite:///{root / 'catalog.db'}", "warehouse": f"file://{root / 'warehouse'}"}


def glue_lake(warehouse_s3: str, region: str | None = None, **extra: str) -> LakeConfig:
    """The AWS lake: the same tables in the Glue catalog, data under `warehouse_s3`."""
    props = {"type": "glue", "warehouse": warehouse_s3, **extra}
    if region:
        props["glue.region"] = props["s3.region"] = region
    return LakeConfig(properties=tuple(sorted(props.items())))


def open_catalog(config: LakeConfig) -> Catalog:
    if not config.properties:
        config.root.mkdir(parents=True, exist_ok=True)
        (config.root / "warehouse").mkdir(exist_ok=True)
    for attempt in itertools.count(1):
        try:
            catalog = load_catalog("moodlens", **config.catalog_properties())
            with contextlib.suppress(NamespaceAlreadyExistsError):
                catalog.create_namespace(NAMESPACE)
            return catalog
        except Exception as error:
            if attempt == CREATE_ATTEMPTS or not _lost_a_creation_race(error):
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _lost_a_creation_race(error: Exception) -> bool:
    """Two first runs on a new embedded lake: the SQL catalog's own tables or the namespace row
    were created by the other run between this run's check and its CREATE (SQLAlchemy's error,
    not pyiceberg's AlreadyExists). Looking again finds them."""
    text = str(error)
    return type(error).__name__ in ("OperationalError", "IntegrityError") and (
        "already exists" in text or "UNIQUE constraint failed" in text or "database is locked" in text)


def _to_lake_type(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(data_type):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(_to_lake_type(f.type)) for f in data_type])
    return data_type


def lake_schema(contract: EventContract) -> pa.Schema:
    """The contract's Arrow schema as the lake stores it (event time in microseconds)."""
    schema = arrow_schema(contract)
    return pa.schema([f.with_type(_to_lake_type(f.type)) for f in schema], metadata=schema.metadata)


def table_schema(name: str) -> pa.Schema:
    return QUARANTINE_SCHEMA if name == QUARANTINE else lake_schema(CONTRACTS[name])


def identifier(name: str) -> str:
    return f"{NAMESPACE}.{name}"


def _partition(name: str, update: Any) -> None:
    with update.update_spec() as spec:
        if name == QUARANTINE:
            spec.add_field("quarantined_at", DayTransform(), "quarantine_day")
        else:
            spec.add_field(TIME_COLUMN, DayTransform(), "event_day")
            spec.add_field("site_id", IdentityTransform(), "site_id")


def _create(catalog: Catalog, name: str, schema: pa.Schema) -> Table:
    tx = catalog.create_table_transaction(identifier(name), schema=schema, properties=TABLE_PROPERTIES)
    _partition(name, tx)
    tx.commit_transaction()
    return catalog.load_table(identifier(name))  # the committed table, not the staged one


class LakeLocationError(ValueError):
    """The catalog's table lives outside the lake the user named: writing there would go elsewhere."""


def _in_this_lake(catalog: Catalog, table: Table, name: str) -> Table:
    """`table`, if it lives under the catalog's warehouse. A Glue database holds one lake: a second
    `--lake s3://...` with the same database would otherwise read and write the first lake's files."""
    warehouse = str(catalog.properties.get("warehouse", "")).rstrip("/")
    if warehouse and not table.location().startswith(warehouse + "/"):
        raise LakeLocationError(
            f"the catalog's table {identifier(name)} lives at {table.location()}, not under the lake "
            f"{warehouse}: one catalog database holds one lake; use --lake {table.location().rsplit('/', 2)[0]} "
            f"or a catalog without that table")
    return table


def ensure_table(catalog: Catalog, name: str, schema: pa.Schema | None = None) -> Table:
    """The table, created when missing; columns the contract added since are added (nullable).

    Two first runs on a new lake race to create (or evolve) each table: the loser's create or
    commit is refused by the catalog, and it takes the winner's table and looks again."""
    for attempt in range(3):
        try:
            return _ensure(catalog, name, schema if schema is not None else table_schema(name))
        except (TableAlreadyExistsError, CommitFailedException):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _ensure(catalog: Catalog, name: str, schema: pa.Schema) -> Table:
    try:
        table = _in_this_lake(catalog, catalog.load_table(identifier(name)), name)
    except NoSuchTableError:
        return _create(catalog, name, schema)
    known = {f.name for f in table.schema().fields}
    if any(f.name not in known for f in schema):
        with table.update_schema() as update:
            update.union_by_name(schema)
    if table.spec().is_unpartitioned() and table.current_snapshot() is None:
        # Created by CloudFormation (which cannot declare a partition spec): partition before data.
        tx = table.transaction()
        tx.set_properties(TABLE_PROPERTIES)
        _partition(name, tx)
        table = tx.commit_transaction()
    return table


def ensure_tables(catalog: Catalog) -> dict[str, Table]:
    return {name: ensure_table(catalog, name) for name in (*EVENT_TABLES, QUARANTINE)}


def existing_tables(catalog: Catalog) -> dict[str, Table]:
    """The lake's tables that exist now (a fresh lake has none)."""
    tables: dict[str, Table] = {}
    for name in (*EVENT_TABLES, QUARANTINE):
        try:
            tables[name] = _in_this_lake(catalog, catalog.load_table(identifier(name)), name)
        except NoSuchTableError:
            continue
    return tables


def describe(table: Table) -> dict[str, Any]:
    snapshot = table.current_snapshot()
    return {"snapshot": snapshot.snapshot_id if snapshot else None,
            "summary": dict(snapshot.summary.additional_properties) if snapshot and snapshot.summary else {}}


def lake_from_argument(text: str | None) -> LakeConfig:
    """`--lake`: a folder (embedded, the default var/lake) or s3://bucket/prefix (Glue + S3)."""
    import os
    text = text or os.environ.get("MOODLENS_LAKE") or str(DEFAULT_LAKE)
    if text.startswith("s3://"):
        # AWS_ENDPOINT_URL (an S3-compatible store, LocalStack, moto): pyarrow's S3 does not read it itself
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        extra = {"glue.endpoint": endpoint, "s3.endpoint": endpoint} if endpoint else {}
        return glue_lake(text.rstrip("/"), region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                         **extra)
    return LakeConfig(root=Path(text))
