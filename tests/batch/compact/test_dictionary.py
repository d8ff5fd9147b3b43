"""Dictionary-encoded string columns (`batch.compact.dictionary`, `schemas/_native/dictionary.c`): the
same strings as plain columns, whatever the values (empty, non-ASCII, more distinct ones than the C
dictionary holds), and Parquet files that read back as the plain strings with the same statistics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.compact import native_decode
from batch.compact.decode import Lines, decode_lines
from batch.compact.dictionary import DICTIONARY_COLUMNS, column_flags, decoded_schema
from batch.compact.fast_decode import decode_fast
from batch.compact.native_decode import DECODE_PATH, _record, decode_native
from batch.lake.append import FastAppend
from batch.lake.tables import ensure_table, lake_schema
from schemas.contract import CONTRACTS, MAX_RECORD_BYTES
from tests.batch.lakes import new_catalog
from tests.schemas.events import EVENT_TIME_MS, camera_heartbeat, face_expression

NATIVE = pytest.mark.skipif(DECODE_PATH != "native" and not os.environ.get("MOODLENS_REQUIRE_NATIVE"),
                            reason="schemas._record not built (pip install -e .)")
DICT_LIMIT = getattr(_record, "DICTIONARY_LIMIT", 1024)  # distinct values per column and batch the C side keeps
FACES = CONTRACTS["face_expression"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.text("abcXYZ019_.:-", min_size=0, max_size=6).map(lambda tail: "s" + tail)  # the ids' pattern
free = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)  # "" and non-ASCII too


def _lines(events: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(e, ensure_ascii=False).encode() for e in events]


def _plain(table: pa.Table, name: str) -> pa.Table:
    return table.cast(lake_schema(CONTRACTS[name]))


def test_the_flags_name_the_low_cardinality_string_columns_depth_first() -> None:
    flags = column_flags(FACES)
    names = []
    for spec in FACES.fields:
        names.append(spec.name)
        names.extend(f"{spec.name}.{member.name}" for member in spec.fields)
    assert len(flags) == len(names)
    assert {name for name, flag in zip(names, flags, strict=True) if flag} == {
        "schema", "schema_version", "site_id", "camera_id", "zone", "kind", "top_class", "model.id", "model.version",
        "edge_version"}
    assert not {"event_id", "track_id"} & DICTIONARY_COLUMNS  # (nearly) unique: plain
    schema = decoded_schema(FACES)
    assert pa.types.is_dictionary(schema.field("site_id").type) and schema.field("event_id").type == pa.string()
    assert schema.metadata == lake_schema(FACES).metadata


@NATIVE
@SETTINGS
@given(st.lists(st.tuples(ids, ids, st.one_of(st.none(), ids), free, free), min_size=1, max_size=40))
def test_dictionary_columns_hold_exactly_the_plain_strings(values: list[tuple[str, str, str | None, str, str]]) -> None:
    events = [face_expression(site_id=site, camera_id=camera, zone=zone, model={"id": model, "version": "1"},
                              edge_version=edge)
              for site, camera, zone, model, edge in values]
    lines = _lines(events)
    reference = decode_fast(lines)  # msgspec's path: plain strings
    both = decode_native(lines)  # C for ASCII, msgspec's for the rest, merged
    c_only = decode_native(lines, then=None)
    assert both.refused == reference.refused == []
    table, _ = both.tables["face_expression"]
    assert table.schema.equals(decoded_schema(FACES))
    table.validate(full=True)
    assert _plain(table, "face_expression").equals(reference.tables["face_expression"][0])
    assert table.column("zone").null_count == sum(zone is None for _, _, zone, _, _ in values)
    if "face_expression" in c_only.tables:
        quick, quick_rows = c_only.tables["face_expression"]
        assert quick.schema.equals(decoded_schema(FACES))
        expected = reference.tables["face_expression"][0].take(pa.array(quick_rows))
        assert _plain(quick, "face_expression").equals(expected)


@NATIVE
def test_more_distinct_values_than_the_c_dictionary_holds_fall_back_to_plain_and_stay_exact() -> None:
    many = DICT_LIMIT * 5 // 3  # zones too: a third of them null
    events = [face_expression(site_id=f"site-{i}", zone=(None if i % 3 == 0 else f"z{i}"), camera_id=f"cam-{i % 4}")
              for i in range(many)]
    events.insert(700, camera_heartbeat(site_id="cafe-1"))  # another table, its own dictionaries
    lines = _lines(events)
    decoder = native_decode._decoder()
    assert decoder is not None
    _, refused, tables = decoder.columns(lines, MAX_RECORD_BYTES, native_decode._DICTIONARY)
    assert refused == []
    _, _, columns = tables[list(CONTRACTS).index("face_expression")]
    position = [spec.name for spec in FACES.fields].index  # before `box`: field i is column i
    site, zone, camera = (columns[position(name)] for name in ("site_id", "zone", "camera_id"))
    assert isinstance(site[2], bytearray) and isinstance(zone[2], bytearray)  # past the limit: offsets + bytes
    assert isinstance(camera[2], tuple) and len(camera[2][0]) // 4 - 1 == 5  # "" and 4 cameras
    out = decode_native(lines, then=None)
    table, _ = out.tables["face_expression"]
    assert table.schema.equals(decoded_schema(FACES))  # encoded in Python instead
    table.validate(full=True)
    assert table.column("site_id").to_pylist() == [f"site-{i}" for i in range(many)]
    assert table.column("zone").to_pylist() == [None if i % 3 == 0 else f"z{i}" for i in range(many)]
    assert _plain(table, "face_expression").equals(decode_fast(lines).tables["face_expression"][0])


def test_batches_with_other_dictionaries_and_the_references_rows_concatenate_and_write_plain_files(
        tmp_path: Path) -> None:
    first = [face_expression(site_id="cafe-1", camera_id=f"cam-{i % 3}", event_time_ms=EVENT_TIME_MS + i)
             for i in range(30)]
    second = [face_expression(site_id="cafe-1", camera_id=f"door-{i % 2}", zone="z1" if i % 3 else None,
                              model={"id": "mod\u00e8le" if i == 3 else "m", "version": ""},  # non-ASCII: msgspec's
                              event_time_ms=EVENT_TIME_MS + 100 + i) for i in range(20)]
    decoded = decode_lines(Lines.of("a", _lines(first)))
    decode_lines(Lines.of("b", _lines(second)), decoded)
    assert not decoded.rejected and decoded.fast == 50
    rows = pa.concat_tables(decoded.tables["face_expression"])  # one partition: no take unifies them
    assert rows.schema.equals(decoded_schema(FACES)) and rows.column("camera_id").num_chunks >= 2
    catalog = new_catalog(tmp_path / "lake")
    table = ensure_table(catalog, "face_expression")
    appender = FastAppend(table)
    appender.write(rows)
    appender.commit({})
    table.refresh()
    [data_file] = [task.file for task in table.scan().plan_files()]
    path = data_file.file_path.removeprefix("file://")
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow.field("camera_id").type == pa.string()  # no Arrow schema: plain strings
    column = parquet.metadata.row_group(0).column(parquet.schema_arrow.get_field_index("camera_id"))
    assert "RLE_DICTIONARY" in column.encodings or "PLAIN_DICTIONARY" in column.encodings
    statistics = column.statistics
    expected = sorted(e["camera_id"] for e in first + second)
    assert (statistics.min, statistics.max, statistics.null_count) == (expected[0], expected[-1], 0)
    event_ids = parquet.metadata.row_group(0).column(parquet.schema_arrow.get_field_index("event_id"))
    assert not {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & set(event_ids.encodings)  # unique ids: plain
    back = table.scan().to_arrow().sort_by("event_time")
    assert back.column("camera_id").to_pylist() == [e["camera_id"] for e in first + second]
    assert back.column("zone").to_pylist() == [e["zone"] for e in first + second]
    with duckdb.connect() as db:
        seen = db.execute(f"SELECT camera_id, zone, model.id FROM read_parquet('{path}') "
                          "ORDER BY event_time").fetchall()
    assert seen == [(e["camera_id"], e["zone"], e["model"]["id"]) for e in first + second]
