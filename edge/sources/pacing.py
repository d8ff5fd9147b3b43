"""Plays recorded frames at the pace they were taken, or as fast as the pipeline can go."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from edge.frame import Frame


def paced(frames: Iterable[Frame], realtime: bool, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[Frame]:
    """Yields each frame no earlier than its offset from the first frame's time, when `realtime`.

    A pipeline that falls behind is not made to catch up by bursting: it simply runs late, which
    keeps the frame times (and so the events) right.
    """
    if not realtime:
        yield from frames
        return
    start_wall: float | None = None
    start_ms = 0
    for frame in frames:
        if start_wall is None:
            start_wall, start_ms = clock(), frame.time_ms
        else:
            wait = start_wall + (frame.time_ms - start_ms) / 1000.0 - clock()
            if wait > 0:
                sleep(wait)
        yield frame
