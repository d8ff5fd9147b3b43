"""Two compactions at once: whatever the interleaving of their commits, each event lands once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyiceberg.catalog import Catalog

from batch.compact.run import CompactionResult
from batch.lake.lock import folder_lock
from batch.lake.tables import EVENT_TABLES, QUARANTINE, identifier
from tests.batch.lakes import DAY_MS, T0, compact_folder, new_catalog, update, write_jsonl
from tests.schemas.events import camera_heartbeat

ROOT = Path(__file__).resolve().parents[3]


def _column(catalog: Catalog, name: str, key: str = "event_id") -> list[str]:
    return catalog.load_table(identifier(name)).scan(selected_fields=(key,)).to_arrow().column(key).to_pylist()


def _events(first: int, count: int) -> list[dict[str, Any]]:
    """Events `first` .. `first + count - 1` of one fixed series (two calls overlap where their ranges do)."""
    while len(_SERIES) < first + count:
        i = len(_SERIES)
        _SERIES.append(update(T0 + (i % 3) * DAY_MS + i, site=f"s{i % 2}"))
    return _SERIES[first:first + count]


_SERIES: list[dict[str, Any]] = []


POINTS = [f"{when}_commit:{name}" for name in EVENT_TABLES for when in ("before", "after")] + \
    [f"before_commit:{QUARANTINE}"]


@pytest.mark.parametrize("point", POINTS)
def test_a_run_committing_between_another_runs_dedup_and_its_commit_doubles_nothing(
        tmp_path: Path, point: str) -> None:
    # Run A reads the table, writes its files, and stops at `point`; run B (overlapping input) runs
    # to its end right there; then A commits onto B's snapshots.
    a_events, b_events = _events(0, 30), _events(20, 30)
    beat = camera_heartbeat()
    write_jsonl(tmp_path / "a" / "a.jsonl", [*a_events, beat, b"not json"])
    write_jsonl(tmp_path / "b" / "b.jsonl", [*b_events, beat, b"not json"])
    catalog = new_catalog(tmp_path / "lake")
    results: dict[str, CompactionResult] = {}

    def b_runs_now(at: str) -> None:
        if at == point:
            results["b"] = compact_folder(new_catalog(tmp_path / "lake"), tmp_path / "b")

    results["a"] = compact_folder(catalog, tmp_path / "a", fault=b_runs_now)
    faces = _column(catalog, "face_expression")
    assert sorted(faces) == sorted({e["event_id"] for e in a_events + b_events})  # each once, none lost
    assert _column(catalog, "camera_heartbeat") == [beat["event_id"]]
    assert len(_column(catalog, QUARANTINE, "record_id")) == 1
    written = sum(r.written.get("face_expression", 0) for r in results.values())
    assert written == len(faces)  # what the runs say they wrote is what the table holds


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.tuples(st.integers(0, 20), st.integers(1, 25)), b=st.tuples(st.integers(0, 20), st.integers(1, 25)),
       point=st.sampled_from(POINTS), flush_rows=st.sampled_from([3, 1000]))
def test_any_overlap_of_two_runs_and_any_commit_point_gives_each_event_once(
        tmp_path_factory: pytest.TempPathFactory, a: tuple[int, int], b: tuple[int, int], point: str,
        flush_rows: int) -> None:
    root = tmp_path_factory.mktemp("overlap")
    write_jsonl(root / "a" / "a.jsonl", _events(*a))
    write_jsonl(root / "b" / "b.jsonl", _events(*b))
    catalog = new_catalog(root / "lake")

    def b_runs_now(at: str) -> None:
        if at == point:
            compact_folder(new_catalog(root / "lake"), root / "b", flush_rows=flush_rows)

    compact_folder(catalog, root / "a", fault=b_runs_now, flush_rows=flush_rows)
    faces = _column(catalog, "face_expression")
    expected = {e["event_id"] for e in _events(*a) + _events(*b)}
    if point.startswith("before_commit:quarantine"):  # no record to quarantine: A never got there
        expected = {e["event_id"] for e in _events(*a)}
    assert sorted(faces) == sorted(expected)


def test_commit_time_dedup_keeps_a_partly_duplicated_file_s_other_rows(tmp_path: Path) -> None:
    # One partition, one file per run: B's commit covers half of A's file; the other half stays.
    a_events = [update(T0 + i) for i in range(10)]
    b_events = a_events[5:]
    write_jsonl(tmp_path / "a" / "a.jsonl", a_events)
    write_jsonl(tmp_path / "b" / "b.jsonl", b_events)
    catalog = new_catalog(tmp_path / "lake")

    def b_runs_now(at: str) -> None:
        if at == "before_commit:face_expression":
            compact_folder(new_catalog(tmp_path / "lake"), tmp_path / "b")

    result = compact_folder(catalog, tmp_path / "a", fault=b_runs_now)
    assert result.written["face_expression"] == 5 and result.duplicates["face_expression"] == 5
    assert sorted(_column(catalog, "face_expression")) == sorted(e["event_id"] for e in a_events)
    files = sorted(p for p in (tmp_path / "lake" / "warehouse").rglob("*.parquet"))
    assert len(files) == 2  # A's first file was written again without B's rows, and deleted


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _cli(*args: str) -> subprocess.Popen[str]:
    return _python("import sys; from moodlens.cli import main; sys.exit(main(sys.argv[1:]))", *args)


def _raw_log(folder: Path, events: int) -> Path:
    write_jsonl(folder / "part-0.jsonl", _events(0, events))
    return folder


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def test_two_compaction_processes_at_once_on_one_raw_log_and_lake_write_each_event_once(tmp_path: Path) -> None:
    raw = _raw_log(tmp_path / "H" / "log", 20000)
    lake = tmp_path / "L"
    # The reproduction (`... & sleep 0.5; ...`) with both started at once: a narrower
    # window would let the first finish before the second reads the table.
    first = _cli("batch", "compact", "--raw", str(raw), "--lake", str(lake))
    second = _cli("batch", "compact", "--raw", str(raw), "--lake", str(lake))
    outcomes = [_finish(first), _finish(second)]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    ids = _column(new_catalog(lake), "face_expression")
    assert len(ids) == len(set(ids)) == 20000


def test_two_runs_that_bypass_the_lock_still_write_each_event_once(tmp_path: Path) -> None:
    # The lock can be lost (an S3 lease that expired); the commit-time dedup holds on its own.
    raw = _raw_log(tmp_path / "raw", 3000)
    code = ("import sys; from pathlib import Path; from tests.batch.lakes import compact_folder, new_catalog; "
            "compact_folder(new_catalog(Path(sys.argv[1])), Path(sys.argv[2]), flush_rows=500)")
    runs = [_python(code, str(tmp_path / "L"), str(raw)) for _ in range(2)]
    outcomes = [_finish(run) for run in runs]
    assert [c for c, _, _ in outcomes] == [0, 0], outcomes
    ids = _column(new_catalog(tmp_path / "L"), "face_expression")
    assert len(ids) == len(set(ids)) == 3000


def test_a_second_run_that_finds_the_lake_held_waits_then_exits_75_naming_the_holder(tmp_path: Path) -> None:
    raw = _raw_log(tmp_path / "raw", 3)
    lake = tmp_path / "L"
    with folder_lock(lake, "a test holding the lake"):
        code, _, err = _finish(_cli("batch", "compact", "--raw", str(raw), "--lake", str(lake), "--wait", "0.5"))
        maintain = _finish(_cli("batch", "maintain", "--lake", str(lake), "--wait", "0"))
    assert code == 75 and "Traceback" not in err
    assert f"pid {os.getpid()}" in err and "a test holding the lake" in err and "waited 0.5 s" in err
    assert maintain[0] == 75 and str(lake / "lake.lock") in maintain[2]
    assert _finish(_cli("batch", "compact", "--raw", str(raw), "--lake", str(lake), "--wait", "0"))[0] == 0


def test_the_lock_of_a_process_killed_with_sigkill_is_free_at_once(tmp_path: Path) -> None:
    holder = _python("import sys, time; from pathlib import Path; from batch.lake.lock import folder_lock\n"
                     "with folder_lock(Path(sys.argv[1]), 'doomed'):\n print('held', flush=True); time.sleep(60)",
                     str(tmp_path / "L"))
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    with folder_lock(tmp_path / "L", "next", wait_s=0):
        pass


def test_two_first_runs_on_a_new_lake_both_find_every_table(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from batch.lake.tables import ensure_tables; "
            "from tests.batch.lakes import new_catalog; ensure_tables(new_catalog(Path(sys.argv[1])))")
    for trial in range(5):
        runs = [_python(code, str(tmp_path / f"L{trial}")) for _ in range(2)]
        outcomes = [_finish(run) for run in runs]
        assert [c for c, _, _ in outcomes] == [0, 0], outcomes


def test_a_table_another_run_created_a_moment_ago_is_taken_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyiceberg.exceptions import NoSuchTableError

    from batch.lake import tables
    catalog = new_catalog(tmp_path / "lake")
    tables.ensure_tables(catalog)  # "the other run" created every table
    real_load: Callable[..., Any] = catalog.load_table
    missed: list[str] = []

    def load_missing_once(name: str | tuple[str, ...]) -> Any:
        dotted = name if isinstance(name, str) else ".".join(name)
        if dotted not in missed:  # this run looked before the other run's create landed
            missed.append(dotted)
            raise NoSuchTableError(dotted)
        return real_load(name)

    monkeypatch.setattr(catalog, "load_table", load_missing_once)
    ensured = tables.ensure_tables(catalog)
    assert sorted(ensured) == sorted([*EVENT_TABLES, QUARANTINE]) and len(missed) == 5


def test_a_commit_after_the_snapshots_since_it_read_were_expired_still_doubles_nothing(tmp_path: Path) -> None:
    import datetime as dt

    from batch.lake.maintain import expire_snapshots
    events = _events(0, 12)
    write_jsonl(tmp_path / "first" / "a.jsonl", events[:2])
    write_jsonl(tmp_path / "a" / "a.jsonl", events[:8])
    write_jsonl(tmp_path / "b1" / "b.jsonl", events[3:6])
    write_jsonl(tmp_path / "b2" / "b.jsonl", events[6:])
    compact_folder(new_catalog(tmp_path / "lake"), tmp_path / "first")  # A's base is this snapshot
    catalog = new_catalog(tmp_path / "lake")

    def two_commits_then_history_is_expired(at: str) -> None:
        if at == "before_commit:face_expression":
            other = new_catalog(tmp_path / "lake")
            compact_folder(other, tmp_path / "b1")
            compact_folder(other, tmp_path / "b2")
            table = other.load_table(identifier("face_expression"))
            assert expire_snapshots(table, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))[0] == 2

    compact_folder(catalog, tmp_path / "a", fault=two_commits_then_history_is_expired)
    assert sorted(_column(catalog, "face_expression")) == sorted(e["event_id"] for e in events)
