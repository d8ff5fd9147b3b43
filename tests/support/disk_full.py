"""A full disk on demand: ``OSError(ENOSPC)`` at the n-th write point (os.write, os.fsync, a file
created with os.open), a short write first when the failing call is a write, so a torn line is left
exactly as a real full disk leaves one. Only inside the ``with`` block, only the given modules' ``os``."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

_real_write, _real_fsync, _real_open = os.write, os.fsync, os.open


@dataclass
class DiskFull:
    fail_at: int | None  # the 1-based write point that fails; None: count only
    points: int = 0
    failures: int = 0
    full: bool = False  # once failed, every later write point fails until ``free()``

    def free(self) -> None:
        self.full = False
        self.fail_at = None

    def _hit(self) -> bool:
        self.points += 1
        if self.full or (self.fail_at is not None and self.points == self.fail_at):
            self.full = True
            self.failures += 1
            return True
        return False

    def write(self, fd: int, data: Any) -> int:
        if self._hit():
            view = memoryview(data)
            if len(view) > 1 and self.failures == 1:
                return _real_write(fd, view[:len(view) // 2])  # a short write; the next call fails
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _real_write(fd, data)

    def fsync(self, fd: int) -> None:
        # An fsync fails only at its own point (delayed allocation finding no block); after a failure
        # it works again, as on a real file system once the writer has cut its file back (frees space).
        self.points += 1
        if self.fail_at is not None and self.points == self.fail_at and not self.full:
            self.full = True
            self.failures += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _real_fsync(fd)

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & os.O_CREAT and not os.path.exists(path) and self._hit():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _real_open(path, flags, mode, dir_fd=dir_fd)


@contextmanager
def disk_full(monkeypatch: pytest.MonkeyPatch, fail_at: int | None) -> Iterator[DiskFull]:
    """Patches ``os.write``/``os.fsync``/``os.open`` process-wide for the block (the log writes through
    the ``os`` module); ftruncate, which frees space, keeps working as on a real full disk."""
    disk = DiskFull(fail_at)
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", disk.write)
        patch.setattr(os, "fsync", disk.fsync)
        patch.setattr(os, "open", disk.open)
        yield disk
