"""Parquet, Arrow and Glue forms of the contract agree with it and with each other."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.table_schema import arrow_schema, glue_columns, lake_name, to_arrow_table
from schemas.contract import CONTRACTS
from tests.schemas.events import SAMPLES, face_expression


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_columns_follow_the_contract(name: str) -> None:
    contract = CONTRACTS[name]
    names = [lake_name(f) for f in contract.fields]
    assert arrow_schema(contract).names == names
    assert [c["Name"] for c in glue_columns(contract)] == names


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_an_instant_is_a_timestamp_named_without_a_unit_and_a_duration_an_integer_named_with_one(name: str) -> None:
    contract = CONTRACTS[name]
    schema = arrow_schema(contract)
    glue = {c["Name"]: c["Type"] for c in glue_columns(contract)}
    for spec in contract.fields:
        column = schema.field(lake_name(spec))
        if spec.instant:
            assert spec.name.endswith("_ms") and column.name == spec.name.removesuffix("_ms")
            assert pa.types.is_timestamp(column.type) and column.type.tz == "UTC"
            assert glue[column.name] == "timestamp"
        else:
            assert column.name == spec.name and not pa.types.is_timestamp(column.type)
        if column.name.endswith("_ms"):  # a unit in the name: an integer of that unit
            assert pa.types.is_integer(column.type) and glue[column.name] == "bigint"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_samples_round_trip_through_parquet(tmp_path: Path, name: str) -> None:
    contract = CONTRACTS[name]
    events = [SAMPLES[name]() for _ in range(3)]
    path = tmp_path / f"{name}.parquet"
    pq.write_table(to_arrow_table(contract, events), path)
    table = pq.read_table(path)
    assert table.schema.equals(arrow_schema(contract), check_metadata=False)
    first = table.to_pylist()[0]
    assert first["event_id"] == events[0]["event_id"]
    assert int(first["event_time"].timestamp() * 1000) == events[0]["event_time_ms"]


def test_track_end_fields_are_optional_columns_and_sql_reads_structs(tmp_path: Path) -> None:
    contract = CONTRACTS["face_expression"]
    events = [face_expression(), face_expression(kind="track_end", duration_ms=4000, frame_count=96)]
    path = tmp_path / "faces.parquet"
    pq.write_table(to_arrow_table(contract, events), path)
    rows = duckdb.sql(f"select kind, duration_ms, probabilities.happy as happy from '{path}' order by kind").fetchall()
    assert rows == [("track_end", 4000, 0.7), ("track_update", None, 0.7)]


def test_glue_types_mirror_arrow_types() -> None:
    columns = {c["Name"]: c["Type"] for c in glue_columns(CONTRACTS["face_expression"])}
    assert columns["event_time"] == "timestamp" and columns["duration_ms"] == "bigint"
    assert columns["box"] == "struct<x:double,y:double,w:double,h:double>"
    schema = arrow_schema(CONTRACTS["face_expression"])
    assert schema.field("box").type == pa.struct([pa.field(k, pa.float64(), nullable=False) for k in "xywh"])
