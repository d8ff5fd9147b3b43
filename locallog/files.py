"""Durable writes to the box's disk: whole writes, atomic replacement, folder syncs.

The one place that knows how a file survives a crash or a power cut on one box: the local log's
segments, the stream hosts' checkpoints and the Kinesis reader's shard positions all go through
here. It sits on the ground floor (above the contract only), so every pipeline may use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

# What the box writes about its customers' faces (the log's events, the stream's outputs) is its owner's
# alone: other local users of the machine read none of it.
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def write_all(fd: int, data: bytes) -> None:
    """Writes every byte (``os.write`` may write fewer than asked, on pipes and full disks)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_directory(directory: Path) -> None:
    """Makes a created, renamed or deleted name in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Replaces ``path`` with ``data`` so a crash leaves either the old file or the new one, whole.

    A uniquely named temp file in the same folder (two writers never share one; a rename never
    crosses file systems), fsync, rename over ``path``, then fsync the folder so the rename itself
    is durable. On an error the temp file is removed and ``path`` is untouched. ``before_replace``
    runs between the fsync and the rename (tests inject crashes there).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if before_replace is not None:
            before_replace()
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)
