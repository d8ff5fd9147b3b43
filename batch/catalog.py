"""The lake's Glue/Athena definitions for CloudFormation, generated from the same code.

`athena_resources(...)` returns CloudFormation resources: the Glue database, one Iceberg table
per lake table (columns from the contract, `OpenTableFormatInput` so Glue creates Iceberg v2
metadata), the views (the same Trino text DuckDB runs, as Athena "Presto views"), and an Athena
workgroup whose results are encrypted and whose queries stop at a scan limit.

CloudFormation cannot declare an Iceberg partition spec; the compaction job's first run on the
Glue catalog adds it (`batch.lake.tables.ensure_table`), before any data is written.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from batch.lake.tables import EVENT_TABLES, NAMESPACE, QUARANTINE, SITES, LakeConfig, ensure_tables, open_catalog
from batch.sql.runner import view_columns
from batch.sql.views import views
from batch.table_schema import glue_columns
from schemas.contract import CONTRACTS
from schemas.privacy import DEFAULT_MIN_TRACKS

DEFAULT_SCAN_LIMIT_BYTES = 10 * 1024**3

_DUCKDB_TO_TRINO = {"VARCHAR": "varchar", "BIGINT": "bigint", "INTEGER": "bigint", "HUGEINT": "bigint",
                    "DOUBLE": "double", "BOOLEAN": "boolean", "TIMESTAMP WITH TIME ZONE": "timestamp(6) with time zone",
                    "DECIMAL": "double", "DATE": "date"}
_TRINO_TO_GLUE = {"varchar": "string", "timestamp(6) with time zone": "timestamp"}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _arrow_glue_type(data_type: pa.DataType) -> str:
    if pa.types.is_list(data_type):
        return f"array<{_arrow_glue_type(data_type.value_type)}>"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    return {pa.string(): "string", pa.int64(): "bigint", pa.float64(): "double", pa.bool_(): "boolean"}[data_type]


def _columns(name: str) -> list[dict[str, str]]:
    if name in (QUARANTINE, SITES):
        from batch.lake.tables import QUARANTINE_SCHEMA, SITES_SCHEMA
        schema = QUARANTINE_SCHEMA if name == QUARANTINE else SITES_SCHEMA
        return [{"Name": f.name, "Type": _arrow_glue_type(f.type)} for f in schema]
    return glue_columns(CONTRACTS[name])


def _trino_type(duckdb_type: str) -> str:
    base = duckdb_type.split("(", maxsplit=1)[0] if duckdb_type.startswith("DECIMAL") else duckdb_type
    return _DUCKDB_TO_TRINO[base]


def presto_view_text(sql: str, database: str, columns: list[tuple[str, str]]) -> str:
    """Athena's encoding of a view in Glue: base64 JSON in a comment."""
    document = {"originalSql": sql, "catalog": "awsdatacatalog", "schema": database,
                "columns": [{"name": n, "type": t} for n, t in columns]}
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    return f"/* Presto View: {encoded} */"


def _view_types() -> dict[str, list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as folder:  # an empty local lake gives the tables' schemas
        tables = ensure_tables(open_catalog(LakeConfig(root=Path(folder))))
        return {view: [(n, _trino_type(t)) for n, t in cols] for view, cols in view_columns(tables).items()}


def athena_resources(warehouse: Any, results_location: Any, kms_key_arn: Any | None = None,
                     scan_limit_bytes: int = DEFAULT_SCAN_LIMIT_BYTES, workgroup_name: Any = "moodlens-analysts",
                     min_tracks: int = DEFAULT_MIN_TRACKS) -> dict[str, Any]:
    """CloudFormation `Resources` for the lake on Glue + Athena.

    warehouse: s3://bucket/prefix of the Iceberg warehouse (a string or an intrinsic such as
        {"Fn::Sub": "s3://${LakeBucket}/warehouse"}); tables live at <warehouse>/moodlens.db/<table>,
        where pyiceberg's Glue catalog looks for them.
    results_location: s3:// URI for Athena query results.
    kms_key_arn: results encrypted with this KMS key (SSE_KMS); None: SSE_S3.
    scan_limit_bytes: BytesScannedCutoffPerQuery of the workgroup (a runaway query stops there).
    min_tracks: the fewest customers behind a number the views show (the stack's setting, which the
        stream, the CloudWatch metrics and the scheduled report use too).
    """
    def at(suffix: str) -> Any:
        if isinstance(warehouse, str):
            return f"{warehouse.rstrip('/')}/{suffix}"
        return {"Fn::Join": ["/", [warehouse, suffix]]}

    account = {"Ref": "AWS::AccountId"}
    resources: dict[str, Any] = {
        "LakeDatabase": {"Type": "AWS::Glue::Database", "Properties": {
            "CatalogId": account,
            "DatabaseInput": {"Name": NAMESPACE, "LocationUri": at(f"{NAMESPACE}.db"),
                              "Description": "moodlens event lake (Iceberg)"}}},
    }
    for name in (*EVENT_TABLES, QUARANTINE, SITES):
        resources[f"LakeTable{_camel(name)}"] = {
            "Type": "AWS::Glue::Table", "DependsOn": "LakeDatabase", "Properties": {
            "CatalogId": account, "DatabaseName": NAMESPACE,
            "OpenTableFormatInput": {"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}},
            "TableInput": {"Name": name, "TableType": "EXTERNAL_TABLE",
                           "StorageDescriptor": {"Columns": _columns(name), "Location": at(f"{NAMESPACE}.db/{name}")}}}}
    types = _view_types()
    table_ids = [f"LakeTable{_camel(n)}" for n in (*EVENT_TABLES, QUARANTINE, SITES)]
    for view in views(min_tracks):
        columns = types[view.name]
        resources[f"LakeView{_camel(view.name)}"] = {"Type": "AWS::Glue::Table", "DependsOn": table_ids, "Properties": {
            "CatalogId": account, "DatabaseName": NAMESPACE,
            "TableInput": {
                "Name": view.name, "TableType": "VIRTUAL_VIEW",
                "Parameters": {"presto_view": "true", "comment": "Presto View"},
                "ViewOriginalText": presto_view_text(view.trino, NAMESPACE, columns),
                "ViewExpandedText": "/* Presto View */",
                "StorageDescriptor": {"Columns": [{"Name": n, "Type": _TRINO_TO_GLUE.get(t, t)} for n, t in columns]}}}}
    encryption: dict[str, Any] = {"EncryptionOption": "SSE_KMS", "KmsKey": kms_key_arn} if kms_key_arn \
        else {"EncryptionOption": "SSE_S3"}
    resources["LakeWorkGroup"] = {"Type": "AWS::Athena::WorkGroup", "Properties": {
        "Name": workgroup_name, "State": "ENABLED",
        "Description": "moodlens analysts: encrypted results, per-query scan limit",
        "WorkGroupConfiguration": {
            "EnforceWorkGroupConfiguration": True, "PublishCloudWatchMetricsEnabled": True,
            "BytesScannedCutoffPerQuery": scan_limit_bytes,
            "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
            "ResultConfiguration": {"OutputLocation": results_location, "EncryptionConfiguration": encryption}}}}
    return resources
