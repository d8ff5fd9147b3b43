"""Where raw events come from: the embedded log, the stream runner's outputs, JSON Lines files.

Every source yields batches of raw lines (`Lines`: the source, the lines, their numbers) so a
quarantined record names the file (or log) and line it came from. A file's lines stay inside the
file's bytes (a `LineBuffer`: offsets, no object per line) for the native decoder to read in place.
Files are read in blocks (`BLOCK_BYTES`; gzip inflated as it is read, `batch.compact.gunzip`), so
memory does not grow with a file's size. A file that cannot be read to its end (bad gzip, cut
short) yields what it could read and reports a `SourceError`: the caller quarantines nothing it
cannot see, says which file and where, and exits non-zero so someone looks at it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from batch.compact.gunzip import MAGIC, gunzip_blocks
from batch.compact.line_buffer import LineBuffer, line_ends
from locallog.stream_outputs import ALARMS, WINDOWS

BATCH_LINES = 100_000
BLOCK_BYTES = 32 << 20  # one read of the log or a plain file, one gzip output block: ~55 k lines of ~600 bytes
GZIP_PIECE_BYTES = 8 << 20  # compressed bytes read at a time (inflating to about one block)
NEWLINE = b"\n"
NEWLINE_BYTE = NEWLINE[0]
STREAM_OUTPUTS = (WINDOWS, ALARMS)  # what the stream writes beside its checkpoint that the lake keeps


@dataclass(frozen=True)
class Lines:
    """One batch of raw records from one source; `numbers[i]` is the line (or log offset) of `lines[i]`.

    Files give their lines as a `LineBuffer` (in place in the file's bytes: a `bytes` only for a
    line someone indexes) and `range`s of line numbers: nothing per record is built on the fast path.
    The log gives lists.
    """

    source: str
    lines: Sequence[bytes]
    numbers: Sequence[int]

    @classmethod
    def of(cls, source: str, lines: Sequence[bytes], first: int = 1) -> Lines:
        return cls(source, lines, range(first, first + len(lines)))


@dataclass(frozen=True)
class SourceError:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class Source:
    """A named iterator of record batches plus the errors met while reading."""

    name: str
    batches: Iterator[Lines]
    errors: list[SourceError] = field(default_factory=list)


class LogReader(Protocol):
    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]: ...


@runtime_checkable
class BlockLogReader(LogReader, Protocol):
    """A log that also hands out whole lines as one block, with where each line ends (found by the
    scan it is given: `locallog.LocalLog.read_block_lines`)."""

    def read_block_lines(self, offset: int, max_bytes: int, line_ends: Callable[[bytes], np.ndarray]
                         ) -> tuple[int, bytes, np.ndarray]: ...


@dataclass
class LogPosition:
    """Where reading the log started and where it got to (the next offset to read)."""

    start: int = 0
    next: int = 0


def from_log(log: LogReader, name: str, batch_lines: int = BATCH_LINES,
             position: LogPosition | None = None) -> Iterator[Lines]:
    """The embedded log's records from `position.start` on, the offset as line number (from 0).

    A log that reads blocks gives its lines in place (a `LineBuffer` per block, in batches of
    `batch_lines`); another gives lists of records.
    """
    position = position if position is not None else LogPosition()
    offset = position.next = position.start
    if isinstance(log, BlockLogReader):
        while True:
            first, block, ends = log.read_block_lines(offset, BLOCK_BYTES, line_ends)  # one scan for both
            if not block:
                return
            lines = LineBuffer.at_ends(block, ends)
            for start in range(0, len(lines), batch_lines):
                batch = lines[start:start + batch_lines]
                yield Lines.of(name, batch, first + start)
                offset = position.next = first + start + len(batch)
    while records := log.read(offset, batch_lines):
        yield Lines(name, [payload for _, payload in records], [at for at, _ in records])
        offset = position.next = records[-1][0] + 1


def _split(name: str, data: bytes, batch_lines: int, torn_tail: bool = True) -> Iterator[Lines]:
    """Batches of `data`'s lines, in place; `torn_tail=False` drops a last line without its newline."""
    lines = LineBuffer.split(data)
    if not torn_tail and data and not data.endswith(NEWLINE):
        lines = lines[:-1]  # the last line is not yet written to its end
    for start in range(0, len(lines), batch_lines):
        yield Lines.of(name, lines[start:start + batch_lines], start + 1)


def lines_of_blocks(name: str, blocks: Iterable[bytes], batch_lines: int = BATCH_LINES,
                    torn_tail: bool | Callable[[], bool] = True, counted: list[int] | None = None) -> Iterator[Lines]:
    """Batches of the lines of a file read block by block (numbered from 1 across blocks), each
    batch in place in its block. A line cut by a block boundary comes alone, joined (a small copy).
    `torn_tail` False (or a callable saying False at the end) drops a last line without its newline;
    `counted` gets the lines yielded."""
    number = 1
    carry = b""
    for block in blocks:
        if not block:
            continue
        ends = line_ends(block)
        complete = ends if block[-1] == NEWLINE_BYTE else ends[:-1]
        start = 0
        if carry:
            if not len(complete):
                carry += block  # one line longer than a block
                continue
            joined = carry + block[:int(complete[0]) + 1]
            yield Lines.of(name, LineBuffer.split(joined), number)
            number += 1
            start, complete = int(complete[0]) + 1, complete[1:]
        if len(complete):
            lines = LineBuffer.at_ends(block, complete)
            lines.starts[0] = start
            for at in range(0, len(lines), batch_lines):
                batch = lines[at:at + batch_lines]
                yield Lines.of(name, batch, number)
                number += len(batch)
            start = int(complete[-1]) + 1
        carry = block[start:]
    if carry and (torn_tail() if callable(torn_tail) else torn_tail):
        yield Lines.of(name, LineBuffer.split(carry), number)
        number += 1
    if counted is not None:
        counted.append(number - 1)


def _file_blocks(path: Path, block: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The file's bytes in blocks, each read at its exact size (a read into a bigger buffer that is
    then cut down copies the block once more: the last one, or a whole file smaller than a block)."""
    with open(path, "rb", buffering=0) as handle:
        left = os.fstat(handle.fileno()).st_size
        while left > 0 and (piece := handle.read(min(block, left))):
            left -= len(piece)
            yield piece
        while piece := handle.read(block):  # grown since: what was appended meanwhile
            yield piece


def _is_gzip(name: str, first: bytes) -> bool:
    return name.endswith(".gz") or first[:2] == MAGIC


def decode_blocks(name: str, blocks: Iterable[bytes], errors: list[SourceError],
                  batch_lines: int = BATCH_LINES) -> Iterator[Lines]:
    """The lines of one file given as blocks of its bytes (plain, or gzip, inflated as they come)."""
    pieces = iter(blocks)
    first = next(pieces, b"")
    chain = itertools.chain([first], pieces)
    if not _is_gzip(name, first):
        yield from lines_of_blocks(name, chain, batch_lines)
        return
    problems: list[str] = []
    counted: list[int] = []
    # A damaged file's readable part is kept; a last line torn by the damage is left out.
    yield from lines_of_blocks(name, gunzip_blocks(chain, problems, BLOCK_BYTES), batch_lines,
                               torn_tail=lambda: not problems, counted=counted)
    if problems:
        errors.append(SourceError(name, f"{problems[0]}; kept the {counted[0]} complete lines before it"))


def decode_file(name: str, data: bytes, errors: list[SourceError],
                batch_lines: int = BATCH_LINES) -> Iterator[Lines]:
    yield from decode_blocks(name, [data], errors, batch_lines)


def from_directory(root: Path, errors: list[SourceError]) -> Iterator[Lines]:
    """JSON Lines files under `root` (plain or .gz, any depth), in name order, read block by block."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of raw events")
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        yield from decode_blocks(str(path), _file_blocks(path, GZIP_PIECE_BYTES if path.name.endswith(".gz")
                                                         else BLOCK_BYTES), errors)


def from_stream_state(state: Path) -> Iterator[Lines]:
    """The embedded stream runner's windows and alarms (its `--state` folder), block by block; a last
    line still being written (no newline yet) is left for the next run."""
    for output in STREAM_OUTPUTS:
        path = state / output
        if path.exists():
            yield from lines_of_blocks(str(path), _file_blocks(path), BATCH_LINES, torn_tail=False)


def from_s3(uri: str, errors: list[SourceError], client: Any) -> Iterator[Lines]:
    """Objects under s3://bucket/prefix (Firehose's raw/ layout: YYYY/MM/DD/HH/... .gz)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        yield from decode_blocks(f"s3://{bucket}/{key}", body.iter_chunks(GZIP_PIECE_BYTES), errors)
