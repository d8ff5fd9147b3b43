"""Where raw events come from: the embedded log, the stream runner's outputs, JSON Lines files.

Every source yields batches of raw lines (`Lines`: the source, the lines, their numbers) so a
quarantined record names the file (or log) and line it came from. A file's lines stay inside the
file's bytes (a `LineBuffer`: offsets, no object per line) for the native decoder to read in place.
A file that cannot be read to its end (bad gzip, cut short) yields what it could read and reports
a `SourceError`: the caller quarantines nothing it cannot see, says which file and where, and
exits non-zero so someone looks at it.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from batch.compact.line_buffer import LineBuffer, line_ends

_inflate: types.ModuleType
try:  # python-isal: the same inflate API, 2x faster than zlib (half of gunzip's time per event)
    from isal import isal_zlib as _inflate
    _INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, _inflate.error)
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback, not the plan
    _inflate = zlib
    _INFLATE_ERRORS = (zlib.error,)

BATCH_LINES = 100_000
BLOCK_BYTES = 32 << 20  # what one read of the embedded log returns: lines of ~600 bytes, ~55 k of them
NEWLINE = b"\n"
STREAM_OUTPUTS = ("windows.jsonl", "alarms.jsonl")  # stream.embedded.WINDOWS, ALARMS


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


def _gunzip_member(member: bytes) -> tuple[bytes, bool, int]:
    """One gzip member inflated: its bytes, whether it ended, and how many bytes followed it.

    isal inflates; when it refuses or finds no end, zlib inflates again, so what is kept of a bad
    member and the error message (zlib's, which says why) are exactly zlib's: isal only makes the
    good path faster.
    """
    inflater: Any = _inflate.decompressobj(wbits=31)
    try:
        out = inflater.decompress(member)
        if inflater.eof:
            return out, True, len(inflater.unused_data)
    except _INFLATE_ERRORS:
        pass
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(member)  # raises zlib.error with zlib's reason
    return out, inflater.eof, len(inflater.unused_data)


def _gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Whatever decompresses, and why the rest did not (concatenated gzip members are allowed)."""
    out: list[bytes] = []
    position = 0
    while position < len(data):
        try:
            inflated, ended, unused = _gunzip_member(data[position:])
        except zlib.error as error:
            return b"".join(out), f"corrupt gzip at byte {position}: {error}"
        out.append(inflated)
        if not ended:
            return b"".join(out), f"gzip cut short (member starting at byte {position} has no end)"
        position = len(data) - unused
    return b"".join(out), None


def decode_file(name: str, data: bytes, errors: list[SourceError],
                batch_lines: int = BATCH_LINES) -> Iterator[Lines]:
    if name.endswith(".gz") or data[:2] == b"\x1f\x8b":
        data, problem = _gunzip(data)
        if problem is not None:
            # The readable part is kept; its last line may be torn, and is quarantined if so.
            data = data[: data.rfind(b"\n") + 1]
            errors.append(SourceError(name, f"{problem}; kept the {data.count(NEWLINE)} complete lines before it"))
    yield from _split(name, data, batch_lines)


def from_directory(root: Path, errors: list[SourceError]) -> Iterator[Lines]:
    """JSON Lines files under `root` (plain or .gz, any depth), in name order."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of raw events")
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        yield from decode_file(str(path), path.read_bytes(), errors)


def from_stream_state(state: Path) -> Iterator[Lines]:
    """The embedded stream runner's windows and alarms (its `--state` folder)."""
    for output in STREAM_OUTPUTS:
        path = state / output
        if path.exists():
            yield from _split(str(path), path.read_bytes(), BATCH_LINES, torn_tail=False)


def from_s3(uri: str, errors: list[SourceError], client: Any) -> Iterator[Lines]:
    """Objects under s3://bucket/prefix (Firehose's raw/ layout: YYYY/MM/DD/HH/... .gz)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        yield from decode_file(f"s3://{bucket}/{key}", body, errors)
