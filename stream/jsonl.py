"""Append-only JSON Lines files for the embedded host's outputs, truncatable to a checkpoint."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from locallog.files import PRIVATE_FILE, PRIVATE_FOLDER, write_all
from locallog.files import write_atomically as write_bytes_atomically
from schemas.struct_mapping import json_default


def dumps(document: Any) -> bytes:
    """One line's bytes. Events from the fast path (msgspec structs) are written as their dicts,
    through the same encoder, so the bytes do not depend on which path validated an event."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True, allow_nan=False,
                      default=json_default).encode()


class AppendFile:
    """One output file. ``size`` is what is written; ``truncate(size)`` undoes an uncommitted tail."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)  # the box owner's only

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def write(self, documents: Iterable[Any]) -> int:
        data = b"".join(dumps(d) + b"\n" for d in documents)
        write_all(self._fd, data)
        return len(data)

    def write_raw(self, data: bytes) -> None:
        write_all(self._fd, data)

    def sync(self) -> None:
        os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        if self.size > size:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def write_atomically(path: Path, document: Any, before_replace: Callable[[], None] | None = None) -> None:
    """Writes ``document`` as JSON to ``path`` so a crash leaves either the old or the new file, whole
    (``locallog.files.write_atomically``: temp file, fsync, rename, folder fsync)."""
    write_bytes_atomically(path, dumps(document), before_replace)


def complete_lines(path: Path, offset: int = 0, limit: int = -1) -> tuple[bytes, int]:
    """The complete lines from byte ``offset`` on (of at most ``limit`` bytes read; -1: to the end), and the
    byte after the last of them: a line its writer is still appending is left for the next read. No file:
    nothing, at ``offset``."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(limit)
    except FileNotFoundError:
        return b"", offset
    end = data.rfind(b"\n") + 1
    return data[:end], offset + end


def read_jsonl(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete lines from byte ``offset`` on, and the byte after the last complete line."""
    data, end = complete_lines(path, offset)
    return [json.loads(line) for line in data.splitlines() if line.strip()], end


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    yield from read_jsonl(path)[0]
