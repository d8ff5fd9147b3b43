"""Plays recorded frames at the pace they were taken, or as fast as the pipeline can go (but not further ahead
of the wall clock than whoever reads the events takes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from edge.frame import Frame
from edge.sources.capture import wall_clock_ms


def sampled(frames: Iterable[Frame], fps: float | None) -> Iterator[Frame]:
    """Frames thinned to about `fps` per second of their own timeline (None: every frame).

    Works on frame times, so a 30 frames/s file sampled at 5 keeps every sixth frame and a live
    camera keeps one frame per 200 ms however fast it delivers.
    """
    if fps is None:
        yield from frames
        return
    if fps <= 0:
        raise ValueError(f"--fps must be positive, got {fps}")
    step_ms = 1000.0 / fps
    due: float | None = None
    for frame in frames:
        if due is not None and frame.time_ms < due - 0.5:  # half a ms: frame times are rounded
            continue
        yield frame
        # From the due time, not the frame's, so the rate does not drift; after a gap, start afresh.
        due = (frame.time_ms if due is None or frame.time_ms >= due + step_ms else due) + step_ms


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


def not_ahead(frames: Iterable[Frame], max_ahead_ms: int | None, now_ms: Callable[[], int] = wall_clock_ms,
              sleep: Callable[[float], None] = time.sleep) -> Iterator[Frame]:
    """Yields each frame no earlier than `max_ahead_ms` before its time on the wall clock (None: at once).

    A recorded source played as fast as possible runs its timeline ahead of the wall clock (a 30-minute clip
    done in 5 minutes ends 25 minutes in the future); a stream host refuses events too far ahead (a wrong
    clock would drag its watermark), so past the limit the source waits for the clock. Live frames, taken
    now, never wait.
    """
    if max_ahead_ms is None:
        yield from frames
        return
    for frame in frames:
        wait_ms = frame.time_ms - max_ahead_ms - now_ms()
        if wait_ms > 0:
            sleep(wait_ms / 1000.0)
        yield frame
