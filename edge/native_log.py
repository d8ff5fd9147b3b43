"""FFmpeg's and OpenCV's own messages (printed by C code straight onto file descriptor 2) captured
for the length of a run and told in one line of ours, so they do not break into the status line.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("moodlens.edge")


@dataclass
class NativeMessages:
    lines: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.lines.values())

    def summary(self) -> str | None:
        """One line: how many, and the commonest one; None when the libraries said nothing."""
        if not self.lines:
            return None
        text, count = self.lines.most_common(1)[0]
        other = f"; {len(self.lines) - 1} other kinds" if len(self.lines) > 1 else ""
        return (f"the video libraries (FFmpeg/OpenCV) printed {self.total} messages, most often "
                f"({count}x): {text[:160]}{other}")


@contextmanager
def native_stderr_captured() -> Iterator[NativeMessages]:
    """Points fd 2 at a temporary file; Python's own stderr (logging, the status line) keeps the terminal.

    Set this up before logging is configured: handlers made later write to the new `sys.stderr`.
    """
    messages = NativeMessages()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no fd 2 (an embedded interpreter): nothing to capture
        yield messages
        return
    old_stderr = sys.stderr
    ours = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding="utf-8", errors="replace",
                            line_buffering=True, write_through=True)
    redirected = _handlers_on(old_stderr)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        if _is_fd2(old_stderr):
            sys.stderr = ours
            for handler in redirected:
                handler.setStream(ours)
        try:
            yield messages
        finally:
            ours.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if sys.stderr is ours:
                sys.stderr = old_stderr
            # Every handler now on our stream goes back, also those made inside (logging.basicConfig).
            for handler in _handlers_on(ours):
                handler.setStream(old_stderr)
            ours.close()
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    messages.lines[line.strip()] += 1
    summary = messages.summary()
    if summary:
        log.warning(summary)


def _is_fd2(stream: object) -> bool:
    try:
        return int(stream.fileno()) == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _handlers_on(stream: object) -> list[logging.StreamHandler[Any]]:
    return [h for h in logging.getLogger().handlers
            if isinstance(h, logging.StreamHandler) and h.stream is stream]
