"""A recorded source (a file or folder used as a camera) going on after a restart, not playing again.

The frames before the recorded position are skipped (a video file seeks there itself), and the timeline
moves so that the first frame played comes after the last event published and not before now: a
restarted camera's events follow its earlier ones, and none is late for the stream's windows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from edge.frame import Frame


def recorded_identity(spec: str) -> str | None:
    """What names a recorded source across restarts: its path with each file's size and modification
    time (another clip under the same name starts over); None for a live one or a path that is not there."""
    path = Path(spec.strip())
    try:
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else []
        stats = [(p.name, p.stat()) for p in files]
    except OSError:
        return None
    if not stats:
        return None
    digest = hashlib.sha256("\n".join(f"{name}\t{st.st_size}\t{st.st_mtime_ns}" for name, st in stats).encode())
    return f"{path.resolve()}#{digest.hexdigest()[:16]}"


def resumed(frames: Iterable[Frame], first_frame: int, not_before_ms: int) -> Iterator[Frame]:
    """The frames from index `first_frame` on, their times moved by one amount so the first is at `not_before_ms`."""
    shift: int | None = None
    for frame in frames:
        if frame.index < first_frame:
            continue
        if shift is None:
            shift = not_before_ms - frame.time_ms
        yield Frame(frame.image, frame.index, frame.time_ms + shift)
