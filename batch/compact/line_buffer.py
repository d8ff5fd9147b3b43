"""A batch of lines left inside the file they came from: no Python object per line until one is asked for.

`LineBuffer(data, starts, ends)` is the `Sequence[bytes]` of `data[starts[i]:ends[i]]`. The native
column decoder reads it in place (`Decoder.columns_in`); a line becomes a `bytes` only when
something indexes it (the lines the fast path refuses, for msgspec's path, the reference validator
and the quarantine), and iterating materialises them all (a decoder without a buffer path).

`split_lines(data)` finds the lines `data.split(b"\\n")` gives, less the empty piece after a final
newline (so CRLF lines keep their ``\\r``, as there): one memchr scan in C where the extension is
built (`schemas._record.line_ends`), else numpy, a chunk at a time. See
``docs/adr/bufdec-0001-decode-in-place.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

try:  # built by `pip install -e .` where a compiler exists (optional in pyproject.toml)
    from schemas._record import line_ends as _native_line_ends
except ImportError:  # pragma: no cover - depends on the install
    _native_line_ends = None  # type: ignore[assignment]

Data = bytes | bytearray | memoryview  # a file's bytes, decompressed
NEWLINE = ord("\n")
SCAN_CHUNK = 1 << 20  # numpy's scan: a chunk's comparison stays in cache
# What `bytes.isspace` calls space (a line of only these is no record); '\n' never is inside a line.
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\r\x0b\x0c")] = True


def _numpy_line_ends(data: Data) -> np.ndarray:
    view = np.frombuffer(data, dtype=np.uint8)
    parts = [np.flatnonzero(view[at:at + SCAN_CHUNK] == NEWLINE) + at for at in range(0, len(view), SCAN_CHUNK)]
    ends = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if len(view) and view[-1] != NEWLINE:
        ends = np.append(ends, len(view))  # a last line without its newline
    return ends.astype(np.int64, copy=False)


def line_ends(data: Data, native: bool = True) -> np.ndarray:
    """Where each line of `data` ends (its newline, or ``len(data)`` for a last line without one)."""
    if native and _native_line_ends is not None:
        return np.frombuffer(_native_line_ends(data), dtype=np.int64)
    return _numpy_line_ends(data)


class LineBuffer(Sequence[bytes]):
    """The lines ``data[starts[i]:ends[i]]``: int64 offsets, C-contiguous (what `columns_in` reads)."""

    __slots__ = ("data", "ends", "starts")

    def __init__(self, data: Data, starts: np.ndarray, ends: np.ndarray) -> None:
        if starts.shape != ends.shape:
            raise ValueError("a LineBuffer needs one start and one end per line")
        self.data = data
        self.starts = np.ascontiguousarray(starts, dtype=np.int64)
        self.ends = np.ascontiguousarray(ends, dtype=np.int64)

    @classmethod
    def split(cls, data: Data, native: bool = True) -> LineBuffer:
        """All the lines of `data`, as `bytes.split(b"\\n")` cuts them less the piece after a final newline."""
        return cls.at_ends(data, line_ends(data, native))

    @classmethod
    def at_ends(cls, data: Data, ends: np.ndarray) -> LineBuffer:
        """The lines of `data` that end at `ends` (as `line_ends` gives them), each starting past the last."""
        ends = np.ascontiguousarray(ends, dtype=np.int64)
        starts = np.empty_like(ends)
        if len(ends):
            starts[0] = 0
            np.add(ends[:-1], 1, out=starts[1:])
        return cls(data, starts, ends)

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> LineBuffer: ...

    def __getitem__(self, index: int | slice) -> bytes | LineBuffer:
        if isinstance(index, slice):
            return LineBuffer(self.data, self.starts[index], self.ends[index])
        return bytes(self.data[self.starts[index]:self.ends[index]])

    def __iter__(self) -> Iterator[bytes]:
        data = self.data
        return (bytes(data[start:end]) for start, end in zip(self.starts.tolist(), self.ends.tolist(), strict=True))

    def take(self, indices: np.ndarray) -> LineBuffer:
        """The lines at `indices` (ints, or a mask), in that order, still in place."""
        return LineBuffer(self.data, self.starts[indices], self.ends[indices])

    def records(self) -> np.ndarray | None:
        """Indices of the lines that are records (not empty, not only space as `bytes.isspace` has
        it); None when all are. Vectorised: only a line starting with a space is looked at alone."""
        empty = self.starts == self.ends
        if not len(self.data):
            blank = empty
        else:
            view = np.frombuffer(self.data, dtype=np.uint8)
            blank = empty | _SPACE[view[np.minimum(self.starts, len(view) - 1)]]
        suspects = np.flatnonzero(blank & ~empty)
        if len(suspects):
            for index in suspects.tolist():
                blank[index] = self[index].isspace()
        if not blank.any():
            return None
        return np.flatnonzero(~blank)


__all__ = ["LineBuffer", "line_ends"]
