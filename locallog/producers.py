"""One producer per name: the log's claim that stops a second edge of the same camera appending.

Edges of different cameras append to one log concurrently by design (each append takes the writer
lock for one write). What must never run twice is one camera's edge: two copies read the same camera
and put every face in twice, under different event ids, so no dedup downstream can tell. A producer
holds its claim, an exclusive ``flock`` on ``.producers/<name>.lock`` in the log's folder, for as long
as it runs; the kernel drops it when the process dies, however it dies, so a claim never goes stale.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
from pathlib import Path

from locallog.files import PRIVATE_FILE, PRIVATE_FOLDER
from locallog.log import LogLockedError

PRODUCERS = ".producers"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,160}")


class ProducerClaim:
    """Held from `claim` until `release` (or the process's end)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> ProducerClaim:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def claim(directory: Path | str, producer: str) -> ProducerClaim:
    """Claims `producer` (e.g. "site.camera") on the log in `directory`; LogLockedError names the holder."""
    if not _NAME.fullmatch(producer) or ".." in producer:
        raise ValueError(f"producer name {producer!r}: letters, digits and _ . : - only")
    folder = Path(directory) / PRODUCERS
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    path = folder / f"{producer}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if error.errno in (errno.EAGAIN, errno.EACCES):
            raise LogLockedError(f"{directory}: {producer} is already appending to this log (pid {holder}); a second "
                                 "copy would put every face in twice: stop the first one") from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return ProducerClaim(path, fd)
