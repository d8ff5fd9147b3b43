"""The honest ceiling for `alarm_incidents.py`: an oracle CUSUM that knows the votes' distributions.

For each planted sentiment incident the oracle knows (a) the in-control distribution of a customer's
vote (positive, negative, neither) at that site and hour of the day, *after* the shipped classifier's
confusion (the true classes of that hour over the whole history, through the confusion matrix), and
(b) the incident's own distribution minute by minute (the planted share of the happy turned sad or
angry, then the same confusion). Its score is Page's CUSUM of the exact log-likelihood ratio of each
customer's vote, started at zero when the incident starts (zero is the CUSUM's worst start: Lorden's
worst case), over the usable ``track_end``s the engine would count. Its threshold comes from the same
stated false-alarm rate and the same Siegmund approximation as the shipped rule (`stream.sequential`):
ARL0 = the site's customers a month / false alarms a month, ARL0 |mu0| = e^h - h - 1 with mu0 the
in-control drift -KL(p0 || p1) against the incident's worst minute.

No rule that sees only these votes and must hold that false-alarm rate can do better on average:
the CUSUM is optimal for a known change (Lorden, Moustakides). The oracle is not a rule (nothing
knows p1 in advance, and it ignores the day-to-day spread that the shipped rule must allow for).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from schemas.expressions import EXPRESSIONS, NEGATIVE, POSITIVE

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MONTH_DAYS = 30
VOTES = ("positive", "negative", "neither")


class Incident(Protocol):
    @property
    def site(self) -> str: ...
    @property
    def camera(self) -> str | None: ...
    @property
    def start_ms(self) -> int: ...
    @property
    def end_ms(self) -> int: ...
    @property
    def peak(self) -> float: ...

    def share(self, t: int) -> float: ...


P = TypeVar("P", bound=Incident)


def vote_of(top: str) -> int:
    return 0 if top in POSITIVE else 1 if top in NEGATIVE else 2


def true_classes(events: Sequence[dict[str, Any]]) -> dict[tuple[str, int], list[float]]:
    """(site, hour of the day) -> shares of each true class among usable visits that ended then."""
    counts: dict[tuple[str, int], Counter[str]] = {}
    for e in events:
        if e["schema"] == "face_expression" and e["kind"] == "track_end" and e["quality"].get("usable", True):
            counts.setdefault((e["site_id"], e["event_time_ms"] // HOUR_MS % 24), Counter())[e["top_class"]] += 1
    return {key: [c[name] / sum(c.values()) for name in EXPRESSIONS] for key, c in counts.items()}


def observed(classes: Sequence[float], sour: float, matrix: Sequence[Sequence[float]] | None) -> list[float]:
    """Vote shares seen when a ``sour`` share of the happy turn sad or angry (half each), after confusion."""
    shares = list(classes)
    happy = EXPRESSIONS.index("happy")
    moved = shares[happy] * sour
    shares[happy] -= moved
    shares[EXPRESSIONS.index("sad")] += moved / 2
    shares[EXPRESSIONS.index("angry")] += moved / 2
    votes = [0.0, 0.0, 0.0]
    for i, share in enumerate(shares):
        row = matrix[i] if matrix is not None else [float(i == j) for j in range(len(EXPRESSIONS))]
        for j, chance in enumerate(row):
            votes[vote_of(EXPRESSIONS[j])] += share * chance
    return [max(v, 1e-9) for v in votes]


def siegmund_threshold(arl0: float, drift: float) -> float:
    target = max(arl0, 1.0) * max(-drift, 1e-6)
    h = math.log(target + 1.0)
    for _ in range(50):
        h = math.log(target + h + 1.0)
    return h


def customers_per_day(events: Sequence[dict[str, Any]]) -> dict[str, float]:
    days: dict[str, Counter[int]] = {}
    for e in events:
        if e["schema"] == "face_expression" and e["kind"] == "track_end" and e["quality"].get("usable", True):
            days.setdefault(e["site_id"], Counter())[e["event_time_ms"] // DAY_MS] += 1
    return {site: statistics.median(c.values()) for site, c in days.items()}


def oracle_delays(original: Sequence[dict[str, Any]], dirty: Sequence[dict[str, Any]], planted: Sequence[P],
                  matrix: Sequence[Sequence[float]] | None, false_alarms_per_month: float,
                  after_ms: int) -> list[tuple[P, float | None, bool, int]]:
    """Per sentiment incident: (incident, minutes to the oracle's raise or None, raised while under way,
    customers seen from its start until the raise or the end of the incident + ``after_ms``)."""
    classes = true_classes(original)
    per_day = customers_per_day(original)
    ends: dict[str, list[tuple[int, int]]] = {}
    for e in dirty:
        if e["schema"] == "face_expression" and e["kind"] == "track_end" and e["quality"].get("usable", True):
            ends.setdefault(e["site_id"], []).append((e["event_time_ms"], vote_of(e["top_class"])))
    for rows in ends.values():
        rows.sort()
    out: list[tuple[P, float | None, bool, int]] = []
    for p in planted:
        if p.camera is not None:
            continue
        hour = p.start_ms // HOUR_MS % 24
        base = classes.get((p.site, hour))
        if base is None:
            out.append((p, None, False, 0))
            continue
        p0 = observed(base, 0.0, matrix)
        worst = observed(base, p.peak, matrix)
        drift = sum(a * math.log(b / a) for a, b in zip(p0, worst, strict=True))  # -KL(p0 || p1) < 0
        h = siegmund_threshold(per_day.get(p.site, 0.0) * MONTH_DAYS / false_alarms_per_month, drift)
        score, seen, raised_at = 0.0, 0, None
        for t, vote in ends.get(p.site, ()):
            if t < p.start_ms:
                continue
            if t >= p.end_ms + after_ms:
                break
            seen += 1
            now = observed(base, p.share(t), matrix)
            score = max(0.0, score + math.log(now[vote] / p0[vote]))
            if score >= h:
                raised_at = t
                break
        # the raise is known at the minute's close, as for the rules (their ticks close minutes)
        delay = None if raised_at is None else (raised_at // 60_000 + 1) * 60_000 - p.start_ms
        out.append((p, None if delay is None else delay / 60_000, delay is not None and p.start_ms + delay <= p.end_ms,
                    seen))
    return out
