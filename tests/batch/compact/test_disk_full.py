"""A compaction that meets a full disk: it deletes what it wrote, says which disk and how much,
and the next run on a grown disk finishes; files of a run killed outright go with `maintain`."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.io.pyarrow import PyArrowFile

from batch.compact.run import DiskFullError
from batch.lake.tables import ensure_tables, identifier
from locallog import LocalLog
from moodlens.cli import main
from tests.batch.lakes import DAY_MS, T0, compact_folder, new_catalog, update, write_jsonl
from tests.support.disk_full import disk_full

ROOT = Path(__file__).resolve().parents[3]


def _bytes_under(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


class _Disk:
    """A disk of `capacity` bytes under `root`: a write past it writes what fits, then ENOSPC,
    as a real full disk does; deleting files frees their space."""

    def __init__(self, root: Path, capacity: int) -> None:
        self.root, self.capacity, self.refusals = root, capacity, 0

    def stream(self, path: str) -> io.FileIO:
        disk = self

        class Stream(io.FileIO):
            def write(self, data: Any) -> int:
                view = memoryview(data).cast("B")
                room = disk.capacity - _bytes_under(disk.root)
                if len(view) > room:
                    disk.refusals += 1
                    super().write(view[:max(room, 0)])
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return super().write(view)

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return Stream(path, "wb")


@contextmanager
def _disk(monkeypatch: pytest.MonkeyPatch, root: Path, capacity: int) -> Iterator[_Disk]:
    disk = _Disk(root, capacity)
    with monkeypatch.context() as patch:
        patch.setattr(PyArrowFile, "create", lambda file, overwrite=False: disk.stream(file._path))
        yield disk


def _raw(folder: Path) -> Path:
    events = [update(T0 + (i % 4) * DAY_MS + i, site=f"s{i % 3}") for i in range(600)]
    write_jsonl(folder / "a.jsonl", events)
    return folder


def _ids(root: Path) -> list[str]:
    table = new_catalog(root).load_table(identifier("face_expression"))
    return sorted(table.scan(selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist())


def _data_files(root: Path) -> list[Path]:
    return sorted((root / "warehouse").rglob("*.parquet"))


def test_a_run_on_a_full_disk_deletes_its_files_and_the_next_run_on_a_grown_disk_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw(tmp_path / "raw")
    compact_folder(new_catalog(tmp_path / "reference"), raw)
    needed = _bytes_under(tmp_path / "reference" / "warehouse")
    lake = tmp_path / "lake"
    ensure_tables(new_catalog(lake))
    empty = _bytes_under(lake)
    with _disk(monkeypatch, lake, empty + needed // 2) as disk:
        with pytest.raises(DiskFullError) as full:
            compact_folder(new_catalog(lake), raw, flush_rows=100)
        assert disk.refusals >= 1
        message = full.value.strerror
        assert f"the disk holding {lake / 'warehouse'} is full" in message and "need about" in message
        assert _data_files(lake) == []  # not even the half-written file is left
        disk.capacity = empty + needed * 5 // 4  # the disk grown to 125% of what the lake needs
        compact_folder(new_catalog(lake), raw, flush_rows=100)
    assert _ids(lake) == _ids(tmp_path / "reference")


def test_the_command_names_the_disk_and_the_space_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    raw = _raw(tmp_path / "raw")
    lake = tmp_path / "lake"
    ensure_tables(new_catalog(lake))
    with _disk(monkeypatch, lake, _bytes_under(lake) + 2000):
        code = main(["batch", "compact", "--raw", str(raw), "--lake", str(lake)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"moodlens: error: batch compact: the disk holding {lake / 'warehouse'} is full" in err
    assert "free" in err and "need about" in err and _data_files(lake) == []


def test_maintain_deletes_the_files_of_a_compaction_killed_before_its_commit(tmp_path: Path) -> None:
    raw = _raw(tmp_path / "raw")
    lake = tmp_path / "lake"
    compact_folder(new_catalog(lake), raw)
    committed = _data_files(lake)
    more = write_jsonl(tmp_path / "more" / "b.jsonl", [update(T0 + 9 * DAY_MS + i) for i in range(5)])
    code = ("import sys, time; from pathlib import Path; from batch.lake.lock import folder_lock\n"
            "from tests.batch.lakes import compact_folder, new_catalog\n"
            "def stop(at):\n"
            "    if at == 'before_commit:face_expression':\n"
            "        print('written', flush=True); time.sleep(60)\n"
            "with folder_lock(Path(sys.argv[1]), 'batch compact'):\n"
            "    compact_folder(new_catalog(Path(sys.argv[1])), Path(sys.argv[2]), fault=stop)\n")
    run = subprocess.Popen([sys.executable, "-c", code, str(lake), str(more.parent)], cwd=ROOT, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE)
    assert run.stdout is not None and run.stdout.readline().strip() == "written"
    run.kill()  # kill -9: no cleanup runs
    run.wait()
    orphans = sorted(set(_data_files(lake)) - set(committed))
    assert orphans, "the killed run had written its files"
    assert main(["batch", "maintain", "--lake", str(lake), "--retain-days", "0", "--wait", "5"]) == 0
    assert _data_files(lake) == committed and len(_ids(lake)) == 600


def test_a_full_disk_at_the_log_checkpoint_is_one_message_and_the_next_run_skips_what_is_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(update(T0 + i)).encode() for i in range(5)])
    log.close()
    lake = tmp_path / "lake"
    args = ["batch", "compact", "--log", str(tmp_path / "log"), "--lake", str(lake)]
    with disk_full(monkeypatch, fail_at=1) as disk:  # the checkpoint is the run's only os.write
        assert main(args) == 1
    err = capsys.readouterr().err
    assert disk.failures >= 1 and "Traceback" not in err
    assert f"the disk holding {lake / 'compaction-checkpoint.json'} is full" in err
    assert len(_ids(lake)) == 5  # the rows had committed
    assert main(args) == 0 and "+         0 rows" in capsys.readouterr().out and len(_ids(lake)) == 5
