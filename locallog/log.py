"""The embedded default's stream: a durable, append-only log of JSON Lines segment files.

One box, no Kinesis: the edge appends inference events here and the stream consumer reads them.

Layout
    ``<directory>/<base_offset:020d>.jsonl`` segment files, one record per line. ``base_offset`` is the
    offset of the segment's first record, so the names sort in offset order. A writer rolls to a new
    segment once the current one passes ``segment_bytes``.

Offsets
    Every record has an integer offset: 0 for the first record ever appended, then +1 per record,
    with no gaps. ``read(offset, n)`` returns ``(offset, payload)`` pairs in order, starting at the
    record with that offset. **To continue, pass back ``last_offset + 1``** (the offset of the last
    pair you got plus one); checkpoint that number, not the last offset. ``next_offset(records,
    offset)`` computes it for you. An empty list means "nothing new yet": poll again later.
    ``end_offset()`` is the offset the next appended record will get.

    After ``delete_before(offset)`` drops old segments, reading an offset that is no longer
    retained starts at the first retained record; the returned offsets show the gap.

Concurrency
    One writer process (enforced with an exclusive ``flock`` on ``.writer.lock``, taken on the first
    ``append``) and any number of reader processes. A record is visible to readers only once its
    whole line, newline included, is in the file: readers ignore a trailing line with no newline,
    whether it is being written right now or was left half-written by a crash. The writer truncates
    such a torn tail when it takes the lock, so offsets stay dense.

Durability
    ``append`` returns after the lines are written and ``fsync``'d (and the directory too, when it
    created a segment): what ``append`` acknowledged survives SIGKILL and power loss.

Failures (a full disk)
    ``append`` is all or nothing: when a write or the fsync fails (ENOSPC, EIO, a short write), the
    segment is truncated back to the end of the last acknowledged record, the counters stay as they
    were, and the ``OSError`` goes to the caller, which keeps the records (the edge's spool) and
    retries later. So no torn line is left for the next batch to be glued onto, and the next
    segment is named by the true count. Should even the truncation fail, the writer closes its file
    and repairs the tail when it next opens it (the crash path above). A reader that finds a torn
    tail in a segment that is not the last one (left by an older writer) skips it and goes on with
    the next segment instead of stopping there for good.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from locallog.files import PRIVATE_FILE, PRIVATE_FOLDER
from locallog.files import fsync_directory as _fsync_directory
from locallog.files import write_all as _write_all
from locallog.segments import complete_prefix, count_lines, newlines, read_block, read_lines, skip_lines

SEGMENT_SUFFIX = ".jsonl"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
_SEGMENT_NAME = re.compile(r"^(\d{20})\.jsonl$")
_LOCK_NAME = ".writer.lock"


class LogLockedError(RuntimeError):
    """Another process is already the log's writer."""


def next_offset(records: Sequence[tuple[int, bytes]], offset: int) -> int:
    """The offset to pass to the next ``read``: one past the last record returned, else unchanged."""
    return records[-1][0] + 1 if records else offset


@dataclass
class _Position:
    """Where a record starts: which segment, and the byte in it. Cached so sequential reads are O(new)."""

    offset: int
    segment_base: int
    byte: int


class LocalLog:
    def __init__(self, directory: Path | str, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        if segment_bytes < 1:
            raise ValueError(f"segment_bytes must be positive, got {segment_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()  # one thread at a time per instance; processes coordinate by files
        self._writer_lock_fd: int | None = None
        self._write_fd: int | None = None
        self._write_base = 0
        self._write_size = 0
        self._write_next = 0
        self._cursor: _Position | None = None

    # ---------------------------------------------------------------- writing

    def append(self, records: Sequence[bytes]) -> None:
        """Appends records (one JSON document each, no newline inside) durably, in order."""
        lines = []
        for index, record in enumerate(records):
            if not isinstance(record, bytes | bytearray | memoryview):
                raise TypeError(f"record {index}: expected bytes, got {type(record).__name__}")
            data = bytes(record)
            if b"\n" in data or b"\r" in data:
                raise ValueError(f"record {index}: a JSON Lines record must not contain a line break")
            if not data.strip():
                raise ValueError(f"record {index}: empty record")
            lines.append(data + b"\n")
        if not lines:
            return
        with self._lock:
            self._open_for_writing()
            if self._write_size >= self.segment_bytes:
                self._roll_segment()
            assert self._write_fd is not None
            # One write per batch: readers only ever see whole lines, never a torn one (they stop at
            # the last newline), so a batch may become visible a line at a time but never garbled.
            try:
                _write_all(self._write_fd, b"".join(lines))
                os.fsync(self._write_fd)
            except OSError:
                self._undo_partial_append()
                raise
            self._write_size += sum(len(line) for line in lines)
            self._write_next += len(lines)

    def _undo_partial_append(self) -> None:
        """Cuts what a failed append left (whole lines or a torn one) back to the last acknowledged end."""
        assert self._write_fd is not None
        try:
            os.ftruncate(self._write_fd, self._write_size)  # frees space: works on a full disk
            os.fsync(self._write_fd)
        except OSError:
            # Cannot even truncate: drop the handle; the next append reopens and cuts the torn tail.
            self._close_writer()

    def close(self) -> None:
        with self._lock:
            if self._write_fd is not None:
                os.close(self._write_fd)
                self._write_fd = None
            if self._writer_lock_fd is not None:
                os.close(self._writer_lock_fd)  # closing releases the flock
                self._writer_lock_fd = None

    def __enter__(self) -> LocalLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _open_for_writing(self) -> None:
        if self._write_fd is not None:
            return
        lock_fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(lock_fd)
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise LogLockedError(f"{self.directory} already has a writer in another process") from None
            raise
        self._writer_lock_fd = lock_fd
        try:
            self._open_last_segment()
        except OSError:
            self._close_writer()  # also releases the lock: the next append starts over
            raise

    def _open_last_segment(self) -> None:
        bases = self._segment_bases()
        if not bases:
            self._create_segment(0)
            return
        base = bases[-1]
        path = self._segment_path(base)
        complete_bytes, complete_lines = complete_prefix(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._write_fd = fd
        if os.fstat(fd).st_size != complete_bytes:
            # A crash (or a failed append that could not cut itself back) tore the last line: it was
            # never acknowledged, so it goes.
            os.ftruncate(fd, complete_bytes)
            os.fsync(fd)
        self._write_base = base
        self._write_size, self._write_next = complete_bytes, base + complete_lines

    def _roll_segment(self) -> None:
        assert self._write_fd is not None
        os.close(self._write_fd)
        self._write_fd = None
        try:
            self._create_segment(self._write_next)
        except OSError:
            self._close_writer()  # reopened (and the last segment found again) by the next append
            raise

    def _close_writer(self) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
        if self._writer_lock_fd is not None:
            os.close(self._writer_lock_fd)
            self._writer_lock_fd = None

    def _create_segment(self, base: int) -> None:
        path = self._segment_path(base)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        _fsync_directory(self.directory)  # the new name must survive a crash, not only its contents
        self._write_base, self._write_size, self._write_next = base, 0, base

    # ---------------------------------------------------------------- reading

    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        """Up to ``max_records`` records from ``offset`` on, as ``(offset, payload)`` in order.

        Continue with ``last_offset + 1`` (see ``next_offset``). Empty when nothing is there yet.
        """
        _check_request(offset, "max_records", max_records)
        with self._lock:
            start = self._start(offset)
            if start is None:
                return []
            bases, position = start
            records: list[tuple[int, bytes]] = []
            while True:
                got, position.byte = read_lines(self._segment_path(position.segment_base), position.byte,
                                                 max_records - len(records))
                records.extend(zip(range(position.offset, position.offset + len(got)), got, strict=True))
                position.offset += len(got)
                if len(records) >= max_records:
                    break
                following = _next_segment(bases, position)
                if following is None:
                    break
                position = following
            self._cursor = position
            return records

    def read_block(self, offset: int, max_bytes: int) -> tuple[int, bytes]:
        """Records from ``offset`` on as one block of whole lines, and the offset of its first record.

        For bulk readers (the lake's compaction) that parse lines in place: no object per record.
        The block holds complete lines of one segment, about ``max_bytes`` (more when a single
        record is larger). Continue with ``first + block.count(b"\\n")``. An empty block: nothing new.
        Offsets are dense within a block; across a torn tail left in an older segment the next
        block's first offset shows the gap, as ``read`` does.
        """
        return self._block(offset, max_bytes, count_lines)

    def read_block_lines(self, offset: int, max_bytes: int, line_ends: Callable[[bytes], np.ndarray] = newlines
                         ) -> tuple[int, bytes, np.ndarray]:
        """As `read_block`, with where each of the block's lines ends (its newline's index), as
        `line_ends` finds them (a caller may have a faster scan): the block is scanned once, for the
        log's cursor and for the caller who splits it. Continue with ``first + len(ends)``."""
        found = np.zeros(0, dtype=np.int64)

        def count(block: bytes) -> int:
            nonlocal found
            found = line_ends(block)
            return len(found)

        first, block = self._block(offset, max_bytes, count)
        return first, block, found

    def _block(self, offset: int, max_bytes: int, count: Callable[[bytes], int]) -> tuple[int, bytes]:
        _check_request(offset, "max_bytes", max_bytes)
        with self._lock:
            start = self._start(offset)
            if start is None:
                return offset, b""
            bases, position = start
            while not (block := read_block(self._segment_path(position.segment_base), position.byte, max_bytes)):
                following = _next_segment(bases, position)
                if following is None:
                    self._cursor = position
                    return position.offset, b""
                position = following
            first = position.offset
            self._cursor = _Position(first + count(block), position.segment_base, position.byte + len(block))
            return first, block

    def _start(self, offset: int) -> tuple[list[int], _Position] | None:
        """The segments and where the record at ``offset`` (or the oldest retained) starts; None when
        the log is empty or ``offset`` is past its end."""
        bases = self._segment_bases()
        if not bases:
            return None
        position = self._locate(max(offset, bases[0]), bases)
        return None if position is None else (bases, position)

    def end_offset(self) -> int:
        """The offset the next appended record will get (the count of records ever appended)."""
        bases = self._segment_bases()
        if not bases:
            return 0
        _, lines = complete_prefix(self._segment_path(bases[-1]))
        return bases[-1] + lines

    def start_offset(self) -> int:
        """The offset of the oldest retained record."""
        bases = self._segment_bases()
        return bases[0] if bases else 0

    def delete_before(self, offset: int) -> int:
        """Deletes whole segments whose records all lie before ``offset``; returns how many went."""
        bases = self._segment_bases()
        deleted = 0
        # A segment's records end where the next one starts; the last segment is never deleted.
        for base, following in itertools.pairwise(bases):
            if following > offset:
                break
            self._segment_path(base).unlink(missing_ok=True)
            deleted += 1
        if deleted:
            _fsync_directory(self.directory)
        return deleted

    def _locate(self, offset: int, bases: list[int]) -> _Position | None:
        cursor = self._cursor
        if cursor is not None and cursor.offset == offset and cursor.segment_base in bases:
            return _Position(cursor.offset, cursor.segment_base, cursor.byte)
        candidates = [b for b in bases if b <= offset]
        base = candidates[-1]
        skip = offset - base
        path = self._segment_path(base)
        byte = skip_lines(path, skip)
        if byte is None:
            return None  # offset is past the end of the log
        return _Position(offset, base, byte)

    def _segment_bases(self) -> list[int]:
        bases = []
        for entry in os.scandir(self.directory):
            match = _SEGMENT_NAME.fullmatch(entry.name)
            if match:
                bases.append(int(match.group(1)))
        return sorted(bases)

    def _segment_path(self, base: int) -> Path:
        return self.directory / f"{base:020d}{SEGMENT_SUFFIX}"


def _check_request(offset: int, limit_name: str, limit: int) -> None:
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if limit < 1:
        raise ValueError(f"{limit_name} must be >= 1, got {limit}")


def _next_segment(bases: list[int], position: _Position) -> _Position | None:
    """Where reading goes on once ``position``'s segment is exhausted: the next segment, which starts
    exactly at our offset, or further on when this one ended in a torn tail (an older writer's
    failed append: skip the tail, the offsets show the gap; never stop at it for good). None: no
    next segment yet."""
    index = bases.index(position.segment_base)
    if index + 1 < len(bases) and bases[index + 1] >= position.offset:
        return _Position(bases[index + 1], bases[index + 1], 0)
    return None
