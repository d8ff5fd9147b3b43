"""Sequential evidence that a room turned sour: a CUSUM of log-likelihood ratios, customer by customer.

Each customer whose visit ended votes once: happy (+1), unhappy (-1) or neither (0): a draw from
the usual shares (p+, p-) of this site at this hour (`stream.baseline`). The alternative is the
room gone sour: a share ``f`` of the customers who would have looked happy look unhappy instead
(p+·(1-f), p- + f·p+). Each customer adds the log of the ratio of the two likelihoods:

    happy:    ln(1 - f)              (< 0: evidence for the usual mood)
    unhappy:  ln(1 + f·p+/p-)        (> 0: evidence for a sour room)
    neither:  0

and the score is S = max(0, S + step) (Page's CUSUM; for votes of two kinds it is the Bernoulli
CUSUM of Reynolds & Stoumbos). The alarm is raised when S >= h. The evidence is never thrown
away at a window boundary: a sour spell raises as soon as its customers together say so.

Threshold from a stated false-alarm rate: with N customers a month and at most R false alarms a
month the CUSUM must wait N/R customers on average on the usual mood (its in-control average run
length, ARL0). Siegmund's approximation for a CUSUM of log-likelihood ratios with in-control drift
mu0 < 0 per customer gives ARL0 ~ (e^h - h - 1)/|mu0|, solved here for h. Without its overshoot
correction it underestimates ARL0 (by about 2x for these votes, checked by simulation), so the real
false-alarm rate on the usual mood is below R; Lorden's bound ARL0 >= e^h would be ~13x too
cautious and cost a third more customers before every raise. N is the site's own traffic (the
median customers per day of its latest complete days, times 30).

Customers who are not independent: a party of four sharing one mood votes four times on one draw,
so its votes say less than four strangers' would. The baseline measures that as the dispersion phi
>= 1 of the site's days (`stream.baseline.dispersion`, pooled over its hours of the day), and each
step is divided by phi (a quasi-likelihood CUSUM: n clustered customers count as n/phi independent
ones). The threshold keeps the stated false-alarm rate: scaled steps scale the in-control drift to
mu0/phi per customer, and Siegmund's ARL0 ~ (e^h - h - 1)/|mu0/phi| is solved for h with that drift
(each customer counted is worth 1/phi of an independent one's evidence). Recovery uses the same
scaled steps.

Change point: the spell began where S last left zero (the maximum-likelihood estimate of the change
under the CUSUM's alternative); the counts since then are what the alarm reports.

Recovery is the mirror image: while raised, R = max(0, R - step) accumulates evidence for the usual
mood, and the alarm clears when R >= ``clear_h`` (and the hold has passed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stream.baseline import Reference

MONTH_DAYS = 30
LEAST_THRESHOLD = math.log(100.0)  # h is never below this (a raise on less evidence is a coin toss)


@dataclass
class Cusum:
    score: float = 0.0
    start_ms: int | None = None  # the change-point estimate: the minute the score last left zero
    customers: int = 0  # since start_ms
    positive: int = 0
    negative: int = 0
    recovery: float = 0.0  # while raised: evidence for the usual mood
    last_ms: int | None = None  # the minute of the latest customer

    def to_json(self) -> list[float | int | None]:
        return [self.score, self.start_ms, self.customers, self.positive, self.negative, self.recovery, self.last_ms]

    @classmethod
    def from_json(cls, row: list[float | int | None]) -> Cusum:
        score, start, customers, positive, negative, recovery, last = row
        return cls(float(score or 0.0), None if start is None else int(start), int(customers or 0),
                   int(positive or 0), int(negative or 0), float(recovery or 0.0), None if last is None else int(last))


def ordinary_worst(reference: Reference, spreads: float, least: float) -> Reference:
    """The usual mood less ``spreads`` day-to-day spreads of its net score, and at least ``least``:
    the in-control level the CUSUM tests against. A site's days differ (a busy Friday is moodier than
    the median day at that hour); a day within its usual spread is not a spell. ``least`` keeps the
    allowance from vanishing at busy sites, whose days' spread shrinks with their customer counts
    while their weekday and hourly differences do not: there a CUSUM is sensitive enough to raise
    on those."""
    half = max(spreads * reference.spread, least) / 2
    return Reference(min(max(reference.positive - half, 0.01), 0.99), min(max(reference.negative + half, 0.01), 0.99),
                     reference.spread, reference.days)


def steps(reference: Reference, sour_share: float, dispersion: float = 1.0) -> tuple[float, float]:
    """The log-likelihood ratio of one happy and of one unhappy customer (neither: 0), divided by the
    site's dispersion (>= 1: the quasi-likelihood, module docstring)."""
    phi = max(dispersion, 1.0)
    return math.log1p(-sour_share) / phi, math.log1p(sour_share * reference.positive / reference.negative) / phi


def threshold(customers_per_day: float, false_alarms_per_month: float, happy_step: float, unhappy_step: float,
              reference: Reference) -> float:
    """h with Siegmund's ARL0 = customers a month / false alarms a month (module docstring), at least ln(100)."""
    drift = reference.positive * happy_step + reference.negative * unhappy_step  # < 0 on the usual mood
    target = max(customers_per_day * MONTH_DAYS / false_alarms_per_month, 100.0) * max(-drift, 1e-3)
    h = math.log(target + 1.0)
    for _ in range(20):  # e^h = target + h + 1: a contraction, converges in a few steps
        h = math.log(target + h + 1.0)
    return max(h, LEAST_THRESHOLD)


def update(state: Cusum, time_ms: int, positive: int, negative: int, customers: int,
           happy_step: float, unhappy_step: float, raised: bool) -> None:
    """Adds one minute's customers (their votes in one lump: order within a minute does not matter
    to S at the minute's end unless S touches zero inside it, which is resolved conservatively by
    taking the good votes first)."""
    step = positive * happy_step + negative * unhappy_step
    if raised:
        state.last_ms = time_ms if customers else state.last_ms
        state.recovery = max(0.0, state.recovery - step)
        state.customers += customers
        state.positive += positive
        state.negative += negative
        return
    before = state.score
    if before + positive * happy_step <= 0.0:  # the good votes of the minute brought S to zero
        state.score = max(0.0, negative * unhappy_step)
        state.last_ms = time_ms if customers else state.last_ms
        state.start_ms = time_ms - 60_000 if state.score > 0.0 else None
        state.customers, state.positive, state.negative = (customers, positive, negative) if state.score else (0, 0, 0)
        return
    state.score = before + step
    if customers:
        state.last_ms = time_ms
    if state.start_ms is None:
        state.start_ms = time_ms - 60_000
    state.customers += customers
    state.positive += positive
    state.negative += negative

