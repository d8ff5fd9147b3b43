"""A lake written before the time columns were renamed (by that commit's real compaction) is migrated
by the writers without losing a row, refused by the readers with one clear message, and a migration
that fails before its commit leaves the old lake as it was."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess  # nosec B404: this Python, fixed arguments
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.parquet as pq
import pytest
from pyiceberg.transforms import DayTransform

from batch.lake.maintain import delete_orphans
from batch.lake.migrate import MIGRATE_COMMAND, LakeLayoutError, migrate_lake, pending
from batch.lake.tables import (
    EVENT_TABLES,
    TIME_COLUMN,
    existing_tables,
    identifier,
    sites_frame,
    write_sites,
)
from batch.sql.runner import describe_tables, run_query
from moodlens.cli import main
from tests.batch.lake.old_lake import INSTANTS, box_events, census, write_old_lake
from tests.batch.lakes import DAY_MS, T0, compact_folder, new_catalog, write_jsonl


@pytest.fixture
def old_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    written = write_old_lake(tmp_path, box_events(), lake)
    assert set(written) == set(EVENT_TABLES) and all(written.values())
    return lake


def test_the_old_lake_is_the_old_layout(old_lake: Path) -> None:
    tables = existing_tables(new_catalog(old_lake))
    columns = {name: {f.name: str(f.field_type) for f in t.schema().fields} for name, t in tables.items()}
    assert columns["face_expression"]["event_time_ms"] == "timestamptz"
    assert columns["sentiment_window"]["window_start_ms"] == "long"
    assert {str(c) for name, t in tables.items() for c in pending(t, name)} == {
        f"{name}.{old} -> {new}" + (" (integer ms to timestamp)" if old != "event_time_ms" else "")
        for name, renames in INSTANTS.items() for old, new in renames.items()}


def test_readers_refuse_an_old_lake_naming_it_its_old_columns_and_the_command(old_lake: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    tables = existing_tables(new_catalog(old_lake))
    for read in (lambda: run_query(tables, "SELECT count(*) FROM face_expression"), lambda: describe_tables(tables)):
        with pytest.raises(LakeLayoutError) as refused:
            read()
        message = str(refused.value)
        assert f"the lake {old_lake.resolve()}" in message
        assert "face_expression.event_time_ms -> event_time" in message
        assert "sentiment_window.window_start_ms -> window_start" in message
        assert f"`{MIGRATE_COMMAND} --lake {old_lake.resolve()}`" in message
    business = old_lake.parent / "business.csv"
    business.write_text("time,site,kind,value\n2026-10-01T12:00:00+02:00,cafe-1,promotion,1\n")
    for command in (["sql", "SELECT count(*) FROM visits"], ["report", "--out", str(old_lake.parent / "report")],
                    ["batch", "forecast"], ["batch", "drivers", "--events", str(business)], ["model", "drift"]):
        assert main([*command, "--lake", str(old_lake)]) != 0, command
        err = capsys.readouterr().err
        assert "event_time_ms -> event_time" in err and MIGRATE_COMMAND in err and "Traceback" not in err, command
    assert census(new_catalog(old_lake))  # refusing changed nothing: still the old layout
    assert all(pending(t, n) for n, t in existing_tables(new_catalog(old_lake)).items() if n in INSTANTS)


def test_batch_maintain_migrates_every_row_keeps_the_partitions_and_a_second_run_is_a_no_op(
        old_lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = new_catalog(old_lake)
    before = census(catalog)
    faces = catalog.load_table(identifier("face_expression"))
    files_before = set(faces.inspect.files().column("file_path").to_pylist())

    assert main(["batch", "maintain", "--lake", str(old_lake)]) == 0
    out = capsys.readouterr().out
    assert "migrated: face_expression.event_time_ms -> event_time\n" in out
    assert "migrated: sentiment_window.window_end_ms -> window_end (integer ms to timestamp)\n" in out

    catalog = new_catalog(old_lake)
    assert census(catalog) == before  # every row, every instant to the microsecond
    tables = existing_tables(catalog)
    assert not [c for n, t in tables.items() for c in pending(t, n)]
    for name, table in tables.items():
        if name in INSTANTS:
            fields = [f.name for f in table.schema().fields]
            assert not [f for f in fields if f.endswith("_ms") and f != "duration_ms"], fields
            assert str(table.schema().find_field("event_time").field_type) == "timestamptz"
            spec = table.spec()  # day(event_time), by field id, survived the rename and the rewrite
            day = next(f for f in spec.fields if f.name == "event_day")
            assert isinstance(day.transform, DayTransform)
            assert table.schema().find_column_name(day.source_id) == TIME_COLUMN
    windows = tables["sentiment_window"].schema()
    assert [f.name for f in windows.fields][5:8] == ["camera_id", "window_start", "window_end"]  # in place
    assert windows.find_field("window_start").required
    # every file rewritten: a reader opening the Parquet files by column name finds the new names
    files_after = tables["face_expression"].inspect.files().column("file_path").to_pylist()
    assert files_after and not set(files_after) & files_before
    for path in files_after:
        assert "event_time" in pq.read_schema(urlparse(path).path).names

    snapshots = {n: t.current_snapshot().snapshot_id for n, t in tables.items() if t.current_snapshot()}
    assert main(["batch", "maintain", "--lake", str(old_lake)]) == 0
    assert "migrated" not in capsys.readouterr().out
    again = existing_tables(new_catalog(old_lake))
    assert {n: t.current_snapshot().snapshot_id for n, t in again.items() if t.current_snapshot()} == snapshots

    first = dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC).date().isoformat()
    pruned = run_query(again, f"SELECT count(*) AS n FROM face_expression WHERE site_id = 'shop-2' "
                              f"AND event_time >= TIMESTAMP '{first}' AND event_time < TIMESTAMP '{first} 23:59:59'")
    scan = pruned.scans["face_expression"]
    assert pruned.table.to_pylist() == [{"n": 30}]  # 15 visits + 15 updates that day at shop-2
    assert scan.files < scan.total_files
    windows_read = run_query(again, "SELECT min(epoch_ms(window_end) - epoch_ms(window_start)) AS shortest_ms, "
                                    "count_if(window_end = event_time) AS ending_at_their_time, count(*) AS n "
                                    "FROM sentiment_window").table.to_pylist()
    assert windows_read == [{"shortest_ms": 5 * 60_000, "ending_at_their_time": 48, "n": 48}]
    # the queries the README gives users, and its time-column examples, on the migrated lake
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    queries = re.findall(r'moodlens sql "([^"]+)"', readme)
    assert queries
    queries += ["SELECT epoch_ms(event_time) AS ms, event_time AT TIME ZONE 'Europe/Berlin' AS local "
                "FROM face_expression LIMIT 1",
                "SELECT window_end - window_start AS length FROM sentiment_window LIMIT 1"]
    for query in queries:
        assert run_query(again, query).table.num_rows > 0, query


def test_compaction_migrates_an_old_lake_before_it_writes(old_lake: Path, tmp_path: Path) -> None:
    before = census(new_catalog(old_lake))
    newer = box_events(start=T0 + 3 * DAY_MS, salt="b")
    raw = write_jsonl(tmp_path / "new-raw" / "events.jsonl", newer).parent
    result = compact_folder(new_catalog(old_lake), raw)
    assert sum(result.written.values()) == len(newer) and not result.errors
    migrated = {str(c) for c in result.migrated}
    assert "face_expression.event_time_ms -> event_time" in migrated
    assert "sentiment_window.window_end_ms -> window_end (integer ms to timestamp)" in migrated
    after = census(new_catalog(old_lake))
    for name, sums in before.items():
        assert after[name]["rows"] == sums["rows"] + sum(e["schema"] == name for e in newer)
        added = sum(e["event_time_ms"] * 1000 for e in newer if e["schema"] == name)
        assert after[name]["event_time"] == sums["event_time"] + added


def test_the_sites_writer_migrates_an_old_lake(old_lake: Path) -> None:
    before = census(new_catalog(old_lake))
    write_sites(new_catalog(old_lake), sites_frame([{"site_id": "cafe-1", "name": "Café",
                                                      "timezone": "Europe/Berlin"}]))
    catalog = new_catalog(old_lake)
    assert census(catalog) == before
    tables = existing_tables(catalog)
    assert not [c for n, t in tables.items() for c in pending(t, n)]
    run_query(tables, "SELECT * FROM visits")  # readers take it now


def test_a_migration_failing_before_its_commit_leaves_the_old_lake_and_the_next_run_completes(old_lake: Path) -> None:
    catalog = new_catalog(old_lake)
    before = census(catalog)
    windows_before = catalog.load_table(identifier("sentiment_window")).current_snapshot().snapshot_id

    def killed(point: str) -> None:  # as a kill would: the windows' rows rewritten, not yet committed
        if point == "rewritten sentiment_window":
            raise KeyboardInterrupt(point)

    with pytest.raises(KeyboardInterrupt, match="rewritten"):
        migrate_lake(existing_tables(catalog), fault=killed)
    catalog = new_catalog(old_lake)
    windows = catalog.load_table(identifier("sentiment_window"))
    assert windows.current_snapshot().snapshot_id == windows_before
    assert pending(windows, "sentiment_window")  # the old layout, readable as it was
    assert census(catalog) == before
    assert delete_orphans(windows, dt.datetime.now(dt.UTC), grace=dt.timedelta(0)) == []  # its new files gone too

    changed = migrate_lake(existing_tables(catalog))
    # the tables migrated before the failure had committed; the failed one and those after it are done now
    assert {c.table for c in changed} == {"sentiment_window", "sentiment_alarm"}
    assert census(new_catalog(old_lake)) == before
    assert migrate_lake(existing_tables(new_catalog(old_lake))) == []


_KILLED_MIGRATION = """
import sys, time
from pathlib import Path
from batch.lake.migrate import migrate_lake
from batch.lake.tables import LakeConfig, existing_tables, open_catalog

def stop_here(point):
    if point == "rewritten sentiment_window":  # its files written, its commit not made: wait for the kill
        Path(sys.argv[2]).write_text(point)
        time.sleep(60)

migrate_lake(existing_tables(open_catalog(LakeConfig(root=Path(sys.argv[1])))), fault=stop_here)
"""


def test_a_migration_killed_with_sigkill_before_its_commit_loses_nothing_and_maintain_finishes_it(
        old_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = census(new_catalog(old_lake))
    marker = tmp_path / "at-the-commit"
    migration = subprocess.Popen([sys.executable, "-c", _KILLED_MIGRATION, str(old_lake), str(marker)],  # nosec B603
                                 env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert migration.poll() is None and time.monotonic() < deadline, "the migration ended before its commit"
            time.sleep(0.1)
        migration.send_signal(signal.SIGKILL)
    finally:
        migration.kill()
        migration.wait()
    catalog = new_catalog(old_lake)
    windows = catalog.load_table(identifier("sentiment_window"))
    assert pending(windows, "sentiment_window") and census(catalog) == before
    data = Path(urlparse(windows.location()).path) / "data"
    assert len(list(data.rglob("*.parquet"))) > len(windows.inspect.files())  # the killed run's files: orphans

    assert main(["batch", "maintain", "--lake", str(old_lake)]) == 0
    assert "migrated: sentiment_window.window_start_ms -> window_start" in capsys.readouterr().out
    catalog = new_catalog(old_lake)
    assert census(catalog) == before
    windows = catalog.load_table(identifier("sentiment_window"))
    left = {str(p) for p in data.rglob("*.parquet")}
    assert left == {urlparse(p).path for p in windows.inspect.files().column("file_path").to_pylist()}
