"""The visits of one run as a table (`moodlens edge run --summary`): one row per track that ended
with a classified face, from its track_end event, the customer's one vote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.ports import EventSink


@dataclass(frozen=True)
class Visit:
    track_id: str
    start_ms: int
    end_ms: int
    main_expression: str
    mean_valence: float

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


class VisitRecorder:
    """An event sink that passes every event on and keeps each finished visit.

    Everything else (depth, close, spool) is the wrapped sink's, so gauges and the run's cleanup
    see through it.
    """

    def __init__(self, inner: EventSink) -> None:
        self.inner = inner
        self.visits: list[Visit] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.inner.publish(event)
        if event.get("kind") == "track_end":
            end = int(event["event_time_ms"])
            self.visits.append(Visit(str(event["track_id"]), end - int(event.get("duration_ms", 0)), end,
                                     str(event["top_class"]), float(event["valence"])))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def clock(offset_ms: int) -> str:
    minutes, ms = divmod(max(0, offset_ms), 60_000)
    return f"{minutes:d}:{ms / 1000:04.1f}"


def visit_table(visits: list[Visit], origin_ms: int | None) -> str:
    """Start and end as minutes:seconds from `origin_ms` (the run's first frame), in start order."""
    if not visits:
        return "no visits: no face was tracked and classified"
    origin = origin_ms if origin_ms is not None else min(v.start_ms for v in visits)
    rows = [("track", "start", "end", "duration", "main expression", "mean valence")]
    for v in sorted(visits, key=lambda v: (v.start_ms, v.track_id)):
        rows.append((v.track_id, clock(v.start_ms - origin), clock(v.end_ms - origin), f"{v.duration_ms / 1000:.1f} s",
                     v.main_expression, f"{v.mean_valence:+.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:],
                      f"{len(visits)} visit{'' if len(visits) == 1 else 's'}"])
