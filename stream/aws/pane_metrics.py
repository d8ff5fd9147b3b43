"""Pane aggregates as CloudWatch statistic sets: the metric names, units and dimensions the Lambda
publishes and the alarms in `infra/` read. One place, so the two cannot drift.

Per (site, camera, event-time minute) pane, and again per (site, minute) with the cameras merged:

* ``NetScore``   one sample per track vote in the pane: +1 positive top class, -1 negative, 0 other.
                 Average over a period = positive share - negative share; SampleCount = votes.
* ``Valence``    one sample per track vote: the vote's valence. Average = mean valence.
* ``Faces``      usable face observations (Sum).
* ``LowQualityFaces`` observations the quality gate left out (Sum).
* ``Heartbeat``  (camera only) one sample per camera_heartbeat (SampleCount, Sum).

What CloudWatch can and cannot reproduce of the engine. The engine counts a track once per window
(its latest vote in the window). Statistic sets are sums, so over an N-minute CloudWatch period a
track that stays in view for k minutes contributes k votes (one per pane), and a track whose minute
is split across two Lambda batches contributes one vote per batch: SampleCount counts track-minutes,
not distinct tracks, and the average weights long-staying customers more. For 1-minute periods
within one batch the figures equal the engine's exactly. The embedded engine remains the reference
for exact distinct-track windows; CloudWatch is the managed approximation that survives resharding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.expressions import NEGATIVE, POSITIVE
from stream.aggregate import PaneAggregate
from stream.aws.cloudwatch import MetricDatum, StatisticSet

PANE_MS = 60_000
NET_SCORE = "NetScore"
VALENCE = "Valence"
FACES = "Faces"
LOW_QUALITY_FACES = "LowQualityFaces"
HEARTBEAT = "Heartbeat"
DEAD_LETTERS = "DeadLetters"
SITE = "Site"
CAMERA = "Camera"


def pane_start(event_time_ms: int) -> int:
    return event_time_ms - event_time_ms % PANE_MS


def vote_score(top_class: str) -> float:
    return 1.0 if top_class in POSITIVE else -1.0 if top_class in NEGATIVE else 0.0


@dataclass
class HostPane:
    """A pane as the Lambda folds it: the engine's mergeable aggregate plus a heartbeat count (the
    aggregate keeps only the last heartbeat) and the records that went into it."""

    aggregate: PaneAggregate = field(default_factory=PaneAggregate)
    heartbeats: int = 0
    sequence_numbers: list[str] = field(default_factory=list)


def _sets(pane: PaneAggregate) -> dict[str, StatisticSet]:
    out: dict[str, StatisticSet] = {}
    votes = list(pane.votes.values())
    if votes:
        out[NET_SCORE] = StatisticSet.of([vote_score(v[2]) for v in votes])
        out[VALENCE] = StatisticSet.of([v[3] for v in votes])
    if pane.faces or pane.low_quality or votes:
        out[FACES] = StatisticSet.of([float(pane.faces)])
        out[LOW_QUALITY_FACES] = StatisticSet.of([float(pane.low_quality)])
    return out


def camera_metrics(site: str, camera: str, minute_ms: int, pane: HostPane) -> list[MetricDatum]:
    dims = ((SITE, site), (CAMERA, camera))
    data = [MetricDatum(name, dims, minute_ms, s) for name, s in _sets(pane.aggregate).items()]
    if pane.heartbeats:
        data.append(MetricDatum(HEARTBEAT, dims, minute_ms, StatisticSet.of([1.0] * pane.heartbeats),
                                unit="Count"))
    return data


def site_metrics(site: str, minute_ms: int, panes: Iterable[PaneAggregate]) -> list[MetricDatum]:
    """The site's minute over all its cameras (track ids are per camera, so their votes are disjoint)."""
    votes: list[tuple[int, str, str, float]] = []
    faces = low = 0
    for pane in panes:
        votes.extend(pane.votes.values())
        faces += pane.faces
        low += pane.low_quality
    merged = PaneAggregate(faces, low, {str(i): v for i, v in enumerate(votes)})
    return [MetricDatum(name, ((SITE, site),), minute_ms, s) for name, s in _sets(merged).items()]
