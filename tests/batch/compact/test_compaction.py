"""Compaction into real Iceberg tables: exactly once, late events in place, quarantine, crashes."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyiceberg.catalog import Catalog

from batch.compact.run import compact
from batch.compact.sources import Source, SourceError, from_log, from_s3
from batch.lake.tables import EVENT_TABLES, QUARANTINE, identifier
from locallog import LocalLog
from tests.batch.lakes import DAY_MS, HOUR_MS, T0, compact_folder, new_catalog, update, write_jsonl
from tests.schemas.events import camera_heartbeat, sentiment_alarm, sentiment_window
from tests.support.moto_server import moto_server


def _ids(catalog: Catalog, name: str) -> list[str]:
    return sorted(catalog.load_table(identifier(name)).scan(selected_fields=("event_id",)).to_arrow()
                  .column("event_id").to_pylist())


def _snapshots(catalog: Catalog) -> dict[str, int | None]:
    out = {}
    for name in (*EVENT_TABLES, QUARANTINE):
        snapshot = catalog.load_table(identifier(name)).current_snapshot()
        out[name] = snapshot.snapshot_id if snapshot else None
    return out


def test_mixed_kinds_land_in_their_tables_once_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    too_few = sentiment_window(tracks=2, insufficient_data=True, shares=None, mean_valence=None, valence_ci=None,
                               net_score=None, net_score_ci=None)  # null objects whose members are not nullable
    events = [update(T0 + i * 1000) for i in range(5)] + [camera_heartbeat(), sentiment_window(), too_few,
                                                          sentiment_alarm()]
    write_jsonl(tmp_path / "raw" / "a.jsonl", events + [events[0], b'{"schema": "face_expression"}'])
    catalog = new_catalog(tmp_path / "lake")
    first = compact_folder(catalog, tmp_path / "raw")
    assert first.written == {"face_expression": 5, "camera_heartbeat": 1, "sentiment_window": 2, "sentiment_alarm": 1}
    windows = catalog.load_table(identifier("sentiment_window")).scan().to_arrow().to_pylist()
    assert sorted((w["tracks"], w["shares"] is None, w["net_score_ci"] is None) for w in windows) == \
        [(2, True, True), (10, False, False)]
    assert first.duplicates["face_expression"] == 1 and first.quarantined == 1
    assert _ids(catalog, "face_expression") == sorted(e["event_id"] for e in events[:5])
    before = _snapshots(catalog)
    again = compact_folder(catalog, tmp_path / "raw")
    assert sum(again.written.values()) == 0 and again.quarantined == 0
    assert _snapshots(catalog) == before  # no commit at all: the table is byte for byte what it was


def test_a_late_event_goes_to_its_own_day_and_site_partition(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    write_jsonl(tmp_path / "raw" / "today.jsonl", [update(T0 + 2 * DAY_MS), update(T0 + 2 * DAY_MS, site="shop-2")])
    compact_folder(catalog, tmp_path / "raw")
    write_jsonl(tmp_path / "raw" / "late.jsonl", [update(T0 + 5 * HOUR_MS)])
    assert compact_folder(catalog, tmp_path / "raw").written["face_expression"] == 1
    files = catalog.load_table(identifier("face_expression")).inspect.files()
    partitions = sorted((str(p["event_day"]), p["site_id"]) for p in files.column("partition").to_pylist())
    assert partitions == [("2026-09-22", "cafe-1"), ("2026-09-24", "cafe-1"), ("2026-09-24", "shop-2")]


def test_since_and_until_select_by_event_time(tmp_path: Path) -> None:
    import datetime as dt
    catalog = new_catalog(tmp_path / "lake")
    write_jsonl(tmp_path / "raw" / "a.jsonl", [update(T0 + h * HOUR_MS) for h in range(6)])
    start = dt.datetime.fromtimestamp((T0 + 2 * HOUR_MS) / 1000, tz=dt.UTC)
    result = compact_folder(catalog, tmp_path / "raw", since=start, until=start + dt.timedelta(hours=3))
    assert result.written["face_expression"] == 3 and result.outside_window == 3
    wide = compact_folder(catalog, tmp_path / "raw", since=start - dt.timedelta(days=1), until=None)
    assert wide.written["face_expression"] == 3 and wide.outside_window == 0  # all inside: the rest


@pytest.mark.parametrize("point", ["before_commit:face_expression",
                                   "after_commit:sentiment_alarm", "before_commit:quarantine"])
def test_a_crash_anywhere_leaves_committed_snapshots_and_the_next_run_finishes(tmp_path: Path, point: str) -> None:
    events = [update(T0 + i) for i in range(4)] + [camera_heartbeat(), sentiment_alarm()]
    write_jsonl(tmp_path / "raw" / "a.jsonl", [*events, b"garbage"])
    reference = new_catalog(tmp_path / "reference")
    compact_folder(reference, tmp_path / "raw")
    catalog = new_catalog(tmp_path / "lake")

    def crash(at: str) -> None:
        if at == point:
            raise RuntimeError(f"simulated crash at {at}")

    with pytest.raises(RuntimeError):
        compact_folder(catalog, tmp_path / "raw", fault=crash)
    if point == "before_commit:face_expression":
        assert _snapshots(catalog)["face_expression"] is None  # nothing half-written is visible
    compact_folder(catalog, tmp_path / "raw")
    for name in (*EVENT_TABLES,):
        assert _ids(catalog, name) == _ids(reference, name)
    quarantine = catalog.load_table(identifier(QUARANTINE)).scan().to_arrow()
    assert quarantine.column("raw").to_pylist() == ["garbage"]


def test_gzip_files_a_corrupt_one_and_a_duplicated_file(tmp_path: Path) -> None:
    events = [update(T0 + i) for i in range(6)]
    raw = tmp_path / "raw"
    body = "\n".join(json.dumps(e) for e in events).encode() + b"\n"
    (raw / "2026" / "09").mkdir(parents=True)
    (raw / "2026" / "09" / "a.gz").write_bytes(gzip.compress(body))
    (raw / "2026" / "09" / "copy-of-a.gz").write_bytes(gzip.compress(body))  # the same file delivered twice
    cut = gzip.compress(b"\n".join(json.dumps(update(T0 + 100 + i)).encode() for i in range(50)) + b"\n")
    (raw / "2026" / "09" / "b.gz").write_bytes(cut[: len(cut) // 2])
    catalog = new_catalog(tmp_path / "lake")
    result = compact_folder(catalog, raw)
    assert result.needs_attention
    [error] = result.errors
    assert "b.gz" in error.source and "gzip" in error.reason
    written = result.written["face_expression"]
    assert 6 < written < 56 and result.duplicates["face_expression"] == 6
    assert len(set(_ids(catalog, "face_expression"))) == written


def test_a_plain_file_cut_mid_line_quarantines_the_torn_line_with_its_number(tmp_path: Path) -> None:
    lines = [json.dumps(update(T0 + i)) for i in range(3)]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "cut.jsonl").write_text("\n".join(lines)[:-40])
    catalog = new_catalog(tmp_path / "lake")
    result = compact_folder(catalog, tmp_path / "raw")
    assert result.written["face_expression"] == 2 and result.quarantined == 1
    [row] = catalog.load_table(identifier(QUARANTINE)).scan().to_arrow().to_pylist()
    assert row["line"] == 3 and row["source"].endswith("cut.jsonl") and "malformed JSON" in row["reasons"][0]


def test_the_embedded_log_is_a_source_with_offsets_as_line_numbers(tmp_path: Path) -> None:
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(update(T0 + i)).encode() for i in range(3)] + [b'{"schema": 1}'])
    catalog = new_catalog(tmp_path / "lake")
    result = compact(catalog, [Source("log", from_log(log, "log:test", batch_lines=2))])
    assert result.written["face_expression"] == 3
    quarantine = catalog.load_table(identifier(QUARANTINE)).scan().to_arrow()
    assert quarantine.column("line").to_pylist() == [3] and quarantine.column("source").to_pylist() == ["log:test"]


def test_firehose_objects_on_s3(tmp_path: Path) -> None:
    import boto3
    with moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for hour in range(3):
            body = "\n".join(json.dumps(update(T0 + hour * HOUR_MS + i)) for i in range(4)).encode()
            key = f"raw/2026/09/22/{hour:02d}/moodlens-1-{hour}.gz"
            s3.put_object(Bucket="lake", Key=key, Body=gzip.compress(body))
        s3.put_object(Bucket="lake", Key="other/ignored.gz", Body=b"not even gzip")
        errors: list[SourceError] = []
        catalog = new_catalog(tmp_path / "lake")
        result = compact(catalog, [Source("s3", from_s3("s3://lake/raw/", errors, s3), errors)])
    assert result.written["face_expression"] == 12 and not errors


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=14), max_size=3), seed=st.integers(0, 3),
       flush_rows=st.sampled_from([1, 3, 1000]))
def test_compaction_is_idempotent_and_independent_of_how_input_is_split_into_runs(
        tmp_path_factory: pytest.TempPathFactory, cuts: list[int], seed: int, flush_rows: int) -> None:
    root = tmp_path_factory.mktemp("split")
    events = [update(T0 + (i * 7919 % 5) * DAY_MS // 2 + i, site=f"s{i % 2}") for i in range(12)]
    lines: list[Any] = [*events, events[seed], b"bad line", events[seed + 1]]
    whole = new_catalog(root / "whole")
    write_jsonl(root / "all" / "all.jsonl", lines)
    compact_folder(whole, root / "all")
    split = new_catalog(root / "split")
    bounds = [0, *sorted(cuts), len(lines)]
    for run, (start, end) in enumerate(itertools.pairwise(bounds)):
        if end > start:
            write_jsonl(root / f"run{run}" / "part.jsonl", lines[start:end])
            compact_folder(split, root / f"run{run}", flush_rows=flush_rows)  # chunks within a run too
    compact_folder(split, root / "all")  # and a re-run of everything changes nothing
    assert _ids(split, "face_expression") == _ids(whole, "face_expression")
    quarantined = split.load_table(identifier(QUARANTINE)).scan().to_arrow()
    assert quarantined.num_rows == 1 and pc.sum(pc.equal(quarantined.column("raw"), "bad line")).as_py() == 1


def test_a_duplicate_in_the_middle_of_a_file_loses_no_other_event(tmp_path: Path) -> None:
    events = [update(T0 + i) for i in range(4)]
    write_jsonl(tmp_path / "raw" / "a.jsonl", [events[0], events[0], events[1], events[2], events[1], events[3]])
    catalog = new_catalog(tmp_path / "lake")
    result = compact_folder(catalog, tmp_path / "raw")
    assert result.written["face_expression"] == 4 and result.duplicates["face_expression"] == 2
    assert _ids(catalog, "face_expression") == sorted(e["event_id"] for e in events)
