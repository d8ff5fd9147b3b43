"""One camera's closed state in the window engine, with its window sums kept incrementally.

Each track's latest vote and the minute of it; per closed minute a row of integer sums (tracks,
faces, low quality, valence sum, valence sum of squares, class counts: ``ROW`` below), a track
counting in the row of the minute of its latest vote; and per window length the sums of the window
that ended at the latest tick. A tick adds the closed minute's row to every window and subtracts
the row of the minute that leaves it; a track voting again leaves its earlier minute (its row, and
every window that still held it). All integers, so the sums equal a re-sum of the live tracks
exactly, in any order (`tests/stream/test_engine_incremental.py` proves it against one), at a
cost per tick that does not grow with the tracks of the last hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import islice
from operator import add, sub
from typing import Any

from stream.aggregate import CLASS_INDEX, VALENCE_SCALE

COLUMNS = 5 + len(CLASS_INDEX)  # ROW: tracks, faces, low quality, valence sum, sum of squares, class counts


class CameraSums:
    __slots__ = ("rows", "totals", "tracks")

    def __init__(self, windows: int) -> None:
        # track -> (minute of its latest vote, class index, valence q, valence q squared)
        self.tracks: dict[str, tuple[int, int, int, int]] = {}
        # minute -> its row, then the tracks that voted in it (one list a minute: 1,000 cameras keep 60,000),
        # oldest first
        self.rows: dict[int, list[Any]] = {}
        self.totals = [[0] * COLUMNS for _ in range(windows)]  # per window length, shortest first

    def close(self, minute: int, faces: int, low: int, votes: Mapping[str, tuple[int, str, str, float]],
              lengths: Sequence[int]) -> None:
        """Folds a closed pane in (before the tick of ``minute`` moves the windows on)."""
        row: list[Any] = [0] * COLUMNS
        row[1], row[2] = faces, low
        tracks, rows, totals = self.tracks, self.rows, self.totals
        for track, vote in votes.items():
            old = tracks.get(track)
            if old is not None:  # its latest vote so far leaves its minute, and the windows holding it
                was, index, q, q2 = old
                for b, length in enumerate(lengths):
                    if was >= minute - length:  # inside the window that ended at the previous tick
                        _count(totals[b], index, q, q2, -1)
                former = rows.get(was)
                if former is not None:
                    _count(former, index, q, q2, -1)
            q = round(vote[3] * VALENCE_SCALE)
            index = CLASS_INDEX[vote[2]]
            tracks[track] = (minute, index, q, q * q)
            row[0] += 1
            row[3] += q
            row[4] += q * q
            row[5 + index] += 1
        row.extend(votes)
        rows[minute] = row

    def advance(self, last: int, lengths: Sequence[int]) -> bool:
        """The windows move on to end after minute ``last``; minutes beyond the longest are forgotten,
        with the votes still in them. False when nothing is left (the camera is gone)."""
        rows, totals = self.rows, self.totals
        newest = rows.get(last)
        for b, length in enumerate(lengths):
            total = totals[b]
            leaving = rows.get(last - length)
            if leaving is not None:  # (map stops at the shorter: the row's sums, not its tracks)
                total = list(map(sub, total, leaving))
            if newest is not None:
                total = list(map(add, total, newest))
            totals[b] = total
        oldest = last - lengths[-1] + 1
        tracks = self.tracks
        while rows:
            first = next(iter(rows))
            if first >= oldest:
                break
            for track in islice(rows.pop(first), COLUMNS, None):
                vote = tracks.get(track)
                if vote is not None and vote[0] == first:
                    del tracks[track]
        return bool(rows)

    def to_json(self) -> tuple[list[list[Any]], list[list[int]]]:
        """(tracks, minutes): the engine snapshot's layout (the sums are derived, never stored)."""
        return ([[track, *vote] for track, vote in sorted(self.tracks.items())],
                [[m, row[1], row[2]] for m, row in self.rows.items()])

    @classmethod
    def from_json(cls, tracks: list[list[Any]], minutes: list[list[int]], lengths: Sequence[int],
                  last: int | None) -> CameraSums:
        """The state ``to_json`` wrote, its sums summed again for the windows that ended after minute
        ``last`` (the latest tick; None: none yet)."""
        c = cls(len(lengths))
        rows: dict[int, list[Any]] = {m[0]: [0, m[1], m[2]] + [0] * (COLUMNS - 3) for m in sorted(minutes)}
        for track, minute, index, q, q2 in tracks:
            c.tracks[track] = (minute, index, q, q2)
            row = rows.setdefault(minute, [0] * COLUMNS)
            _count(row, index, q, q2, 1)
            row.append(track)
        c.rows = dict(sorted(rows.items()))
        if last is not None:
            for b, length in enumerate(lengths):
                inside = [row[:COLUMNS] for m, row in c.rows.items() if last - length < m <= last]
                c.totals[b] = [sum(column) for column in zip([0] * COLUMNS, *inside, strict=True)]
        return c


def _count(row: list[Any], index: int, q: int, q2: int, sign: int) -> None:
    """Adds (``sign`` 1) or removes (-1) one track's vote in a row."""
    row[0] += sign
    row[3] += sign * q
    row[4] += sign * q2
    row[5 + index] += sign
