"""Whether a window is low *for this site*: the gate on ``low_sentiment``'s absolute level.

``low_sentiment`` raises on a net score below ``low_raise`` (an absolute level: "customers look
unhappy"). Some sites sit there every busy hour: crowds and queues sour a room, and the shipped
classifier turns about one neutral face in ten sad or angry, so a busy shop's ordinary level can be
-0.3. An alarm that fires every day at the same hour is noise to a manager, and it hides the real
spells. So where the site's usual level at this hour (`usual_level`) is itself below ``low_clear``, a
window is bad only if it is also below that usual level by more than the usual band: ``sigmas``
times the baseline's day-to-day spread (widened for a spread learnt from few days:
`prediction_factor`) and the window's own sampling error together, and at least ``least`` of net
score (the window drop rule's raise level); and it is good again once it is back at the usual level
(or at ``low_clear``). Where the usual level is at or above ``low_clear``, a window below
``low_raise`` is already unusual and the absolute level decides.

The usual level (`usual_level`):

* the hour of the day (the site's local hour) over the site's latest (local) days, once
  ``baseline_min_days`` distinct days are seen;
  before that, for ``low_sentiment`` only, provisionally over the earlier days seen at this hour (at
  least two, never today's: a spell under way would teach itself that it is usual; one day has no
  spread);
* lowered where the same hour of the week has been worse over the earlier weeks (at least two: one
  week is not a pattern) than the hour of the day, by that difference. A site's week has a pattern
  an hour of the day does not know (a cinema's Friday and Saturday evenings, a café's slow Monday
  morning): the median of seven days, robust to one or two of them, calls every such evening
  unusual. Never raised by it: a window ordinary for this hour of the week is not unusual, and one
  ordinary for the hour of the day is not either. The cost: a spell at the same hour of the week as
  two earlier bad ones is judged against them.

A weekday the site has never had customers on before today (each day of a site's first week; a shop
that opens on Sundays from now on): the week's pattern is unknown, and a site's first Friday evening
may be busier and sourer than every earlier evening without anything being wrong, so nothing is
usual yet (`usual_level` is None; seen: `weekday_seen`, any hour of that weekday with a baseline
sample on an earlier day, since an hour of a cinema's afternoon between two showings may have had no
window with enough customers in its first week): the sequential drop rule does not judge, and
``low_sentiment`` treats the hour as a new site's, except that what the hour of the day has taught
(`day_level`) still counts: a window must also be below that hour's usual band, so a site whose
customers are always that unhappy is not raised on each new weekday of its first week.

A new site (fewer than two earlier days at this hour): nothing is learnt, and ``low_sentiment``
counts a window only when it is clearly bad for customers whatever the site: ``z_raise`` standard
errors below ``low_new_site`` (-0.4: among those who show a mood, about two unhappy faces for every
happy one or worse). A new site with really unhappy customers is told on its first day; one whose
busy hours are merely sour (a queue at -0.3 to -0.6 in windows of 10-40) is not raised on each of its
first days at each busy hour, as the absolute level alone did.

Chosen on the benchmark (`benchmarks/alarm_incidents.py`, 2 seeds x traffic 0.5, 1, 3; ADR alarms-0003,
before the new-site, week and prediction-band parts of ADR alarms-0004): judging
every site against its band (also those usually above ``low_clear``, where a window's sampling error
makes the band wide) caught 11 busy hours, 4 sharp spells and 7 quiet hours of 54 each against 14, 6
and 9 this way, for about the same false alarms (1.79 against 1.88 per site-week at x3, 0 at x1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

from stream.baseline import DAY_MS, DayBaseline, Reference
from stream.measures import Z_975, t_975


def prediction_factor(days: int) -> float:
    """How much wider than the days' spread a band for the next day must be when that spread comes from
    only ``days`` days: Student's prediction interval, t(0.975, days - 1)·√(1 + 1/days), over the normal
    1.96 (7 days: 1.33; 3 days: 2.54; 2 days: 7.9): a spread from three days may be near zero by chance."""
    return t_975(max(days, 2) - 1) * math.sqrt(1.0 + 1.0 / max(days, 1)) / Z_975


def unusually_low(net: float, error: float, usual: Reference, sigmas: float, least: float) -> bool:
    """``net`` (a window's net score with sampling error ``error``) is below the usual band of ``usual``."""
    spread = usual.spread * prediction_factor(usual.days)
    return net < usual.net - max(sigmas * math.hypot(spread, error), least)


def day_level(hour_of_day: DayBaseline | None, min_days: int, local_ms: int, provisional: bool) -> Reference | None:
    """The site's usual mood at this hour of the day alone (no week pattern); ``provisional``: from two
    earlier days while the hour has fewer than ``min_days``. ``local_ms``: the end of the window or minute
    judged, as a local instant (`stream.window_evidence`): today is the site's day."""
    if hour_of_day is None:
        return None
    usual = hour_of_day.reference(min_days)
    return hour_of_day.before((local_ms - 1) // DAY_MS) if usual is None and provisional else usual


def weekday_seen(same_weekday: Iterable[DayBaseline | None], local_ms: int) -> bool:
    """Whether the site had customers on this weekday before today: any of the hour-of-week baselines of
    today's weekday (``same_weekday``) holds an earlier day."""
    today = (local_ms - 1) // DAY_MS
    return any(b is not None and b.days and b.days[0][0] < today for b in same_weekday)


def usual_level(hour_of_day: DayBaseline | None, hour_of_week: DayBaseline | None, min_days: int, local_ms: int,
                provisional: bool, seen: bool) -> Reference | None:
    """The site's usual mood at this hour of the day, lowered by how much worse this hour of the week has
    been over its earlier weeks (at least two; module docstring); None while nothing is learnt (unless
    ``provisional``: while the hour of the day has fewer than ``min_days`` days) and while today's weekday
    was not ``seen`` before today (`weekday_seen`). ``local_ms`` as for `day_level`."""
    if not seen:
        return None  # the site's first such weekday: the week's pattern is unknown
    today = (local_ms - 1) // DAY_MS
    usual = day_level(hour_of_day, min_days, local_ms, provisional)
    weekly = hour_of_week.before(today) if hour_of_week is not None else None
    if usual is None or weekly is None or weekly.net >= usual.net:
        return usual
    half = (usual.net - weekly.net) / 2  # the week's shift, half from each share
    return replace(usual, positive=min(max(usual.positive - half, 0.01), 0.99),
                   negative=min(max(usual.negative + half, 0.01), 0.99))
