"""Tables from the contract: partitioning, Parquet zstd, schema evolution that never breaks old files."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batch.compact.decode import Lines, decode_lines
from batch.lake.tables import ensure_table, identifier, lake_schema
from batch.sql.runner import run_query
from schemas.contract import CONTRACTS, Field
from tests.batch.lakes import T0, compact_folder, new_catalog, update, write_jsonl


def test_tables_are_partitioned_by_day_and_site_and_written_as_zstd_parquet(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    write_jsonl(tmp_path / "raw" / "a.jsonl", [update(T0), update(T0, site="shop-2")])
    compact_folder(catalog, tmp_path / "raw")
    table = catalog.load_table(identifier("face_expression"))
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("event_day", "day"),
                                                                          ("site_id", "identity")]
    files = table.inspect.files().column("file_path").to_pylist()
    assert len(files) == 2
    metadata = pq.ParquetFile(files[0].removeprefix("file://")).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_a_newer_minor_version_adds_a_nullable_column_and_old_files_still_read(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    write_jsonl(tmp_path / "raw" / "old.jsonl", [update(T0 + i) for i in range(3)])
    compact_folder(catalog, tmp_path / "raw")

    current = CONTRACTS["face_expression"]
    newer = dataclasses.replace(current, minor=current.minor + 1, fields=(
        *current.fields, Field("gaze", "number", "Share of the visit looking at the counter.", required=False,
                               nullable=True, minimum=0.0, maximum=1.0)))
    table = ensure_table(catalog, "face_expression", lake_schema(newer))
    assert table.schema().find_field("gaze").optional
    old_rows = decode_lines(Lines.of("t", [b""])).tables  # nothing: the decoder is the 1.0 one
    assert old_rows == {}
    moment = dt.datetime.fromtimestamp((T0 + 10) / 1000, tz=dt.UTC)
    new_rows = pa.Table.from_pylist([{**update(T0 + 10), "event_time": moment, "gaze": 0.25}],
                                    schema=lake_schema(newer))
    table.append(new_rows)

    everything = table.scan().to_arrow()
    assert sorted(everything.column("gaze").to_pylist(), key=lambda v: v is None) == [0.25, None, None, None]
    query = "SELECT count(*) AS n, count(gaze) AS with_gaze FROM face_expression"
    result = run_query({"face_expression": table}, query)
    assert result.table.to_pylist() == [{"n": 4, "with_gaze": 1}]
    # and the old writer keeps working against the evolved table
    write_jsonl(tmp_path / "raw" / "more.jsonl", [update(T0 + 20)])
    assert compact_folder(catalog, tmp_path / "raw").written["face_expression"] == 1


def test_a_table_created_without_partitions_gets_them_before_any_data(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    catalog.create_table(identifier("camera_heartbeat"), schema=lake_schema(CONTRACTS["camera_heartbeat"]))
    table = ensure_table(catalog, "camera_heartbeat")
    assert [f.name for f in table.spec().fields] == ["event_day", "site_id"]
