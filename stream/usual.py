"""Whether a window is low *for this site*: the gate on ``low_sentiment``'s absolute level.

``low_sentiment`` raises on a net score below ``low_raise`` (an absolute level: "customers look
unhappy"). Some sites sit there every busy hour: crowds and queues sour a room, and the shipped
classifier turns about one neutral face in ten sad or angry, so a busy shop's ordinary level can be
-0.3. An alarm that fires every day at the same hour is noise to a manager, and it hides the real
spells. So where the site's usual level at this hour of the day (`stream.baseline`, once learnt) is
itself below ``low_clear``, a window is bad only if it is also below that usual level by more than
the usual band: ``sigmas`` times the baseline's day-to-day spread and the window's own sampling
error together, and at least ``least`` of net score (the window drop rule's raise level); and it is
good again once it is back at the usual level (or at ``low_clear``). Where the usual level is at or
above ``low_clear``, a window below ``low_raise`` is already unusual and the absolute level decides,
as it does until the baseline is ready (a new site's first ``baseline_min_days`` days).

Chosen on the benchmark (`benchmarks/alarm_incidents.py`, 2 seeds x traffic 0.5, 1, 3): judging
every site against its band (also those usually above ``low_clear``, where a window's sampling error
makes the band wide) caught 11 busy hours, 4 sharp spells and 7 quiet hours of 54 each against 14, 6
and 9 this way, for about the same false alarms (1.79 against 1.88 per site-week at x3, 0 at x1).
"""

from __future__ import annotations

import math

from stream.baseline import Reference


def unusually_low(net: float, error: float, usual: Reference, sigmas: float, least: float) -> bool:
    """``net`` (a window's net score with sampling error ``error``) is below the usual band of ``usual``."""
    return net < usual.net - max(sigmas * math.hypot(usual.spread, error), least)
