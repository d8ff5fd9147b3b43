"""The sequential ``sentiment_drop`` rule over an `stream.alarms.AlarmEngine`'s ticks (``drop_detection =
"sequential"``, the default): each minute's customers whose visits ended feed a CUSUM (`stream.sequential`)
per site (its cameras pooled) and per camera, against the site's usual mood at this hour of the day
(`stream.usual`). The threshold comes from ``false_alarms_per_month`` and the site's own customers a day
(the median of its latest complete days, counted here); the steps are divided by the site's dispersion
(`stream.baseline.dispersion`). The alarm says since when (the change-point estimate) and how many customers
since looked unhappy and happy against the usual shares; it clears at ``recovery_odds`` of evidence for
the usual mood, after the hold. A key quiet for ``quiet_minutes`` starts its evidence afresh: a spell
does not span a closed or empty spell.

The engine's fields are read and written here as `stream.alarm_state` reads and writes them."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

from schemas.types import SentimentAlarm
from stream import alarm_words, sequential
from stream.alarm_machine import Machine, alarm_event
from stream.baseline import DAY_MS, Reference, dispersion
from stream.sequential import Cusum

if TYPE_CHECKING:
    from stream.alarms import AlarmEngine


def on_customers(engine: AlarmEngine, now: int, customers: list[tuple[str, str, int, int, int]],
                 alarms: list[SentimentAlarm]) -> None:
    """The minute's customers, per site (its cameras pooled) and per camera."""
    per_site: dict[str, list[int]] = {}
    for site, camera, positive, negative, n in customers:
        total = per_site.setdefault(site, [0, 0, 0])
        total[0] += positive
        total[1] += negative
        total[2] += n
        if engine.config.cameras:
            judge(engine, site, camera, now, positive, negative, n, alarms)
    for site, (positive, negative, n) in per_site.items():
        count_traffic(engine, site, now, n)
        judge(engine, site, "", now, positive, negative, n, alarms)


def count_traffic(engine: AlarmEngine, site: str, now: int, customers: int) -> None:
    days = engine._traffic.setdefault(site, [])
    day = (engine._local_end(site, now) - 1) // DAY_MS
    if days and days[-1][0] == day:
        days[-1][1] += customers
    else:
        days.append([day, customers])
        del days[:-(engine.config.baseline_keep_days + 1)]


def threshold(engine: AlarmEngine, site: str, happy: float, unhappy: float, reference: Reference) -> float:
    """h from the site's customers a day (the median of its latest complete days) and the stated rate."""
    days = engine._traffic.get(site, [])
    full = [n for _, n in days[:-1]] or [n for _, n in days]
    return sequential.threshold(statistics.median(full) if full else 0.0, engine.config.false_alarms_per_month,
                                happy, unhappy, reference)


def site_dispersion(engine: AlarmEngine, site: str, now: int) -> float:
    """The site's dispersion pooled over its hours of the day (`stream.baseline.dispersion`), once a minute."""
    cached = engine._dispersions.get(site)
    if cached is None or cached[0] != now:
        hours = (engine._baselines.get((site, f"d{hour}")) for hour in range(24))
        cached = engine._dispersions[site] = (now, dispersion(
            b.pearson(engine.config.baseline_min_days) for b in hours if b is not None))
    return cached[1]


def judge(engine: AlarmEngine, site: str, camera: str, now: int, positive: int, negative: int, n: int,
          alarms: list[SentimentAlarm]) -> None:
    """One key's minute: its CUSUM moves on; a raise at the threshold, a clear at the recovery odds."""
    c = engine.config
    reference = engine._usual(site, now, provisional=False)
    if reference is None:
        return
    key = ("sentiment_drop", site, camera)
    machine = engine._machines.get(key)
    raised = machine is not None and machine.state == "ALARM"
    state = engine._cusums.setdefault((site, camera), Cusum())
    gap = c.quiet_minutes * 60_000
    if not raised and gap and state.last_ms is not None and now - state.last_ms >= gap:
        state = engine._cusums[(site, camera)] = Cusum()  # a spell does not span a closed or empty spell
    usual = sequential.ordinary_worst(reference, c.drop_allowance, c.drop_min / 2)
    happy, unhappy = sequential.steps(usual, c.sour_share, site_dispersion(engine, site, now))
    sequential.update(state, now, positive, negative, n, happy, unhappy, raised)
    if machine is not None and raised and n:
        machine.data_ms = now  # customers came: the key is not quiet
    where = alarm_words.place(site, camera or None)
    began = state.start_ms or now
    if not raised:
        if state.score < sequential.LEAST_THRESHOLD:  # below any h: no need to work h out
            return
        h = threshold(engine, site, happy, unhappy, usual)
        if state.score < h or (not camera and engine._other_raised("sentiment_drop", site)):
            return
        engine._machines[key] = Machine("ALARM", raised_ms=now, data_ms=now)
        alarms.append(alarm_event(
            "sentiment_drop", site, camera or None, "ALARM", now, net(state), round(reference.net, 6),
            alarm_words.drop_raised(where, engine._clock(site, began), (now - began) / 60_000, state.customers,
                                    state.negative, state.positive, net(state), reference.negative,
                                    reference.positive)))
        state.recovery = 0.0
        return
    assert machine is not None
    held = machine.raised_ms is None or now - machine.raised_ms >= c.hold_minutes * 60_000
    if state.recovery >= math.log(c.recovery_odds) and held:
        machine.state, machine.history, machine.raised_ms = "OK", "", None
        alarms.append(alarm_event(
            "sentiment_drop", site, camera or None, "OK", now, net(state), round(reference.net, 6),
            alarm_words.drop_cleared(where, engine._clock(site, began), state.customers, state.negative,
                                     state.positive, net(state), reference.net)))
        engine._cusums[(site, camera)] = Cusum()
        if not camera:
            engine._site_cleared("sentiment_drop", site)


def net(state: Cusum) -> float | None:
    """The net score of the customers since the spell's start (None: nobody since)."""
    return round((state.positive - state.negative) / state.customers, 6) if state.customers else None
