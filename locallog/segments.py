"""Reading a segment file of the local log: whole lines only, by count or by size (see `locallog.log`).

A line counts once its newline is in the file: a trailing line without one is being written (or was
torn by a crash) and is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

_READ_CHUNK = 1 << 20
_CUT_WINDOW = 1 << 16  # where a block's last newline is looked for first


def count_lines(block: bytes) -> int:
    # Twice as fast as bytes.count(b"\n") on big blocks (0.085 against 0.185 us per 565-byte line).
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A))


def newlines(block: bytes) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)


def complete_prefix(path: Path) -> tuple[int, int]:
    """Bytes up to and including the last newline, and how many lines that is."""
    complete_bytes = lines = 0
    position = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            count = chunk.count(b"\n")
            if count:
                lines += count
                complete_bytes = position + chunk.rindex(b"\n") + 1
            position += len(chunk)
    return complete_bytes, lines


def skip_lines(path: Path, skip: int) -> int | None:
    """The byte where line number ``skip`` starts, or None when the file has fewer complete lines."""
    if skip == 0:
        return 0
    seen = 0
    position = 0
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        while chunk := handle.read(_READ_CHUNK):
            start = 0
            while True:
                newline = chunk.find(b"\n", start)
                if newline < 0:
                    break
                seen += 1
                start = newline + 1
                if seen == skip:
                    return position + start
            position += len(chunk)
    return None




def read_block(path: Path, byte: int, max_bytes: int) -> bytes:
    """Whole lines from ``byte`` on: about ``max_bytes``, up to the last newline (past it when one
    line is longer); empty when no complete line follows ``byte``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return b""  # deleted by retention while we read: the caller finds the next segment
    try:
        # Find the cut in the block's last stretch, then read exactly up to it: a block is read
        # once, not read and then copied without its torn tail (32 MiB a block).
        stop = min(os.fstat(fd).st_size, byte + max_bytes)
        if stop <= byte:
            return b""
        window = max(byte, stop - _CUT_WINDOW)
        newline = os.pread(fd, stop - window, window).rfind(b"\n")
        if newline >= 0:
            end = window + newline + 1
            block = os.pread(fd, end - byte, byte)
            if len(block) == end - byte:
                return block
    finally:
        os.close(fd)
    return read_block_slowly(path, byte, max_bytes)


def read_block_slowly(path: Path, byte: int, max_bytes: int) -> bytes:
    """`read_block` where the last stretch holds no newline: a line longer than it, or none yet."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return b""
    with handle:
        handle.seek(byte)
        data = handle.read(max_bytes)
        end = data.rfind(b"\n")
        while end < 0:
            more = handle.read(_READ_CHUNK)
            if not more:
                return b""  # no newline yet: not a record (yet)
            found = more.find(b"\n")
            if found >= 0:
                return data + more[:found + 1]
            data += more
    return data[:end + 1]


def read_lines(path: Path, byte: int, max_lines: int) -> tuple[list[bytes], int]:
    """Complete lines from ``byte`` on (at most ``max_lines``), and the byte after the last one."""
    lines: list[bytes] = []
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return lines, byte  # deleted by retention while we read: the caller finds the next segment
    with handle:
        handle.seek(byte)
        pending = b""
        while len(lines) < max_lines:
            chunk = handle.read(_READ_CHUNK)
            if not chunk:
                break  # whatever is pending has no newline yet: not a record (yet)
            data = pending + chunk
            start = 0
            while len(lines) < max_lines:
                newline = data.find(b"\n", start)
                if newline < 0:
                    break
                lines.append(data[start:newline])
                byte += newline + 1 - start
                start = newline + 1
            pending = data[start:]
    return lines, byte
