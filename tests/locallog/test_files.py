"""Durable writes: a replaced file is the old one or the new one, whole, and nothing is left behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from locallog.files import fsync_directory, write_all, write_atomically


class CrashError(Exception):
    pass


def test_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "state" / "checkpoint.json"
    write_atomically(path, b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.json"]


def test_a_crash_before_the_rename_keeps_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    write_atomically(path, b"old")

    def crash() -> None:
        raise CrashError

    with pytest.raises(CrashError):
        write_atomically(path, b"new" * 1000, before_replace=crash)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


def test_writers_never_share_a_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    payloads = [bytes([65 + i]) * 100_000 for i in range(4)]
    threads = [threading.Thread(target=write_atomically, args=(path, data)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_bytes() in payloads  # one writer's bytes, never a mix


def test_write_all_finishes_short_writes(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    data = os.urandom(1 << 20)  # more than a pipe holds: os.write returns short counts
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    write_all(write_end, data)
    os.close(write_end)
    reader.join()
    os.close(read_end)
    assert bytes(received) == data
    fsync_directory(tmp_path)  # a folder can be synced (no error on the file systems we run on)
