"""Compaction's offset into the embedded log holds for that log only: a log made again at the same
path is read whole, never with its first records skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from batch.compact.checkpoint import read_offset
from locallog import LocalLog
from moodlens.cli import main
from tests.batch.lakes import T0, visit


def _write(log_dir: Path, tracks: list[str], segment_bytes: int = 64 * 1024 * 1024) -> None:
    with LocalLog(log_dir, segment_bytes=segment_bytes) as log:
        log.append([json.dumps(visit(T0 + i * 60_000, track=t)).encode() for i, t in enumerate(tracks)])


def _compact(root: Path) -> None:
    assert main(["batch", "compact", "--log", str(root / "log"), "--lake", str(root / "lake")]) == 0


def _tracks_in_lake(root: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    capsys.readouterr()
    assert main(["sql", "--raw", "--lake", str(root / "lake"), "--format", "csv",
                 "SELECT track_id FROM face_expression"]) == 0
    return set(capsys.readouterr().out.split()[1:])


def test_a_log_made_again_at_the_same_path_is_read_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "log", [f"old-{i}" for i in range(4)])
    _compact(tmp_path)
    shutil.rmtree(tmp_path / "log")  # a history made again, a log folder reset by hand
    _write(tmp_path / "log", [f"new-{i}" for i in range(6)])
    _compact(tmp_path)
    assert {f"new-{i}" for i in range(6)} <= _tracks_in_lake(tmp_path, capsys)


def test_a_shorter_log_at_the_same_path_is_read_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "log", [f"old-{i}" for i in range(6)])
    _compact(tmp_path)
    shutil.rmtree(tmp_path / "log")
    _write(tmp_path / "log", ["new-0", "new-1"])
    assert read_offset(tmp_path / "lake", tmp_path / "log") == 0  # also what a box may delete below
    _compact(tmp_path)
    assert {"new-0", "new-1"} <= _tracks_in_lake(tmp_path, capsys)


def test_the_same_log_goes_on_from_its_offset_even_after_its_old_segments_are_deleted(tmp_path: Path) -> None:
    _write(tmp_path / "log", [f"a-{i}" for i in range(5)], segment_bytes=200)  # a segment per record or two
    _compact(tmp_path)
    assert read_offset(tmp_path / "lake", tmp_path / "log") == 5
    _write(tmp_path / "log", ["b-0", "b-1"], segment_bytes=200)
    assert read_offset(tmp_path / "lake", tmp_path / "log") == 5  # appended to: the offset holds
    with LocalLog(tmp_path / "log", segment_bytes=200) as log:
        assert log.delete_before(5) > 0  # what the box does with segments the lake holds
    assert read_offset(tmp_path / "lake", tmp_path / "log") == 5
    _compact(tmp_path)
    assert read_offset(tmp_path / "lake", tmp_path / "log") == 7


def test_an_offset_written_before_fingerprints_is_still_trusted(tmp_path: Path) -> None:
    _write(tmp_path / "log", ["a", "b", "c"])
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "compaction-checkpoint.json").write_text(json.dumps({str((tmp_path / "log").resolve()): 2}))
    assert read_offset(tmp_path / "lake", tmp_path / "log") == 2
