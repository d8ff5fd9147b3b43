"""Maintenance: small files merged, retention really deletes, crash leftovers cleaned up."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow.parquet as pq

from batch.lake.maintain import count_rows, delete_orphans, maintain_lake
from batch.lake.tables import EVENT_TABLES, existing_tables, identifier
from tests.batch.lakes import DAY_MS, compact_folder, new_catalog, update, write_jsonl


def _parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet"))


def test_small_files_are_rewritten_one_per_partition_without_changing_rows(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    for run in range(3):
        write_jsonl(tmp_path / f"raw{run}" / "a.jsonl", [update(now_ms - i * 1000 - run) for i in range(5)])
        compact_folder(catalog, tmp_path / f"raw{run}")
    table = catalog.load_table(identifier("face_expression"))
    ids = sorted(table.scan().to_arrow().column("event_id").to_pylist())
    results = maintain_lake({"face_expression": table}, dt.datetime.now(dt.UTC), retain_days=None,
                            grace=dt.timedelta(0))
    result = results["face_expression"]
    assert (result.files_before, result.files_after, result.rewritten_partitions) == (3, 1, 1)
    table.refresh()
    assert sorted(table.scan().to_arrow().column("event_id").to_pylist()) == ids
    assert len(_parquet_files(tmp_path / "lake" / "warehouse" / "moodlens" / "face_expression")) == 1


def test_retention_deletes_old_partitions_and_their_files_are_gone_from_disk(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    now = dt.datetime.now(dt.UTC)
    now_ms = int(now.timestamp() * 1000)
    old = [update(now_ms - 40 * DAY_MS + i) for i in range(3)]
    recent = [update(now_ms - DAY_MS + i) for i in range(2)]
    write_jsonl(tmp_path / "raw" / "a.jsonl", old + recent)
    compact_folder(catalog, tmp_path / "raw")
    results = maintain_lake(existing_tables(catalog), now, retain_days=30, grace=dt.timedelta(0))
    assert results["face_expression"].deleted_rows == 3 and results["face_expression"].expired_snapshots >= 1
    table = catalog.load_table(identifier("face_expression"))
    assert count_rows(table) == 2 and len(table.snapshots()) == 1
    on_disk = set()
    for path in _parquet_files(tmp_path / "lake" / "warehouse"):
        if "face_expression" in str(path):
            on_disk.update(pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist())
    assert on_disk == {e["event_id"] for e in recent}  # not even time travel can bring them back


def test_files_of_a_run_that_died_before_committing_are_deleted_after_the_grace_period(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    write_jsonl(tmp_path / "raw" / "a.jsonl", [update(1_790_035_200_000)])
    compact_folder(catalog, tmp_path / "raw")
    table = catalog.load_table(identifier("face_expression"))
    [kept] = _parquet_files(tmp_path / "lake" / "warehouse" / "moodlens" / "face_expression")
    orphan = kept.with_name("00000-0-orphan.parquet")
    orphan.write_bytes(kept.read_bytes())
    now = dt.datetime.now(dt.UTC)
    assert delete_orphans(table, now) == []  # too young: might be a run in flight
    os.utime(orphan, (now.timestamp() - 7200, now.timestamp() - 7200))
    assert delete_orphans(table, now) == [str(orphan)]
    assert kept.exists() and count_rows(table) == 1
    assert set(existing_tables(catalog)) >= set(EVENT_TABLES)
