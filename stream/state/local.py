"""Host state in a local folder: one checkpoint file holding the host position and every site's
state, replaced atomically (temp file, fsync, rename, folder fsync), so the sites and the position
always change together.

One writer per folder. The store holds an exclusive ``flock`` on ``stream.lock`` in the folder for
its whole life (the kernel lets go when the process dies, kill -9 included), and writes its pid into
that file; a second host on the same folder is refused, naming the folder and the holder's pid,
before it reads or writes anything."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from locallog.files import PRIVATE_FILE, PRIVATE_FOLDER
from stream.host.sites import StateError
from stream.jsonl import write_atomically

CHECKPOINT = "checkpoint.json"
LOCK = "stream.lock"


class StateLockedError(StateError):
    """Another live process writes this state folder."""


def lock_folder(folder: Path) -> int:
    """An exclusive lock on ``folder/stream.lock`` (returns its descriptor; closing it lets go)."""
    path = folder / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StateLockedError(f"{folder}: another stream host (pid {holder}) is writing this state folder; "
                               f"one folder has one writer: stop that one first (lock {path})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def read_state(folder: Path | str, name: str = CHECKPOINT) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The checkpoint and each site's state as a host last committed them to ``folder`` (None and {}
    before its first commit). Takes no lock: readers beside a running host (the page) use it, and
    the file is replaced whole, so they always see one complete commit."""
    path = Path(folder) / name
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None, {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateError(f"{path}: corrupt checkpoint ({error})") from error
    if not isinstance(document, dict) or not isinstance(document.get("sites", {}), dict):
        raise StateError(f"{path}: corrupt checkpoint (not a checkpoint object)")
    return document, dict(document.pop("sites", {}))


class LocalStateStore:
    def __init__(self, folder: Path | str, name: str = CHECKPOINT,
                 fault: Callable[[str], None] = lambda point: None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        self._lock: int | None = lock_folder(self.folder)
        self.path = self.folder / name
        self.atomic = True  # sites and position in one file, replaced at once
        self.where = str(self.path)
        self._fault = fault
        self._sites: dict[str, Any] = {}

    def site_where(self, site: str) -> str:
        return f"{self.path} (site {site})"

    def load(self) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        checkpoint, sites = read_state(self.folder, self.path.name)
        self._sites = sites
        return checkpoint, dict(sites)

    def claim(self) -> bool:
        return True  # the folder's lock, taken at the start, is the claim

    def commit(self, checkpoint: Mapping[str, Any], sites: Mapping[str, Mapping[str, Any]]) -> None:
        merged = {**self._sites, **sites}
        write_atomically(self.path, {**checkpoint, "sites": merged},
                         before_replace=lambda: self._fault("before-replace"))
        self._sites = merged

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # the flock goes with the descriptor
            self._lock = None
