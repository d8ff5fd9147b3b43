"""Whether a window is low *for this site*: the gate on ``low_sentiment``'s absolute level.

``low_sentiment`` raises on a net score below ``low_raise`` (an absolute level: "customers look
unhappy"). Some sites sit there every busy hour: crowds and queues sour a room, and the shipped
classifier turns about one neutral face in ten sad or angry, so a busy shop's ordinary level can be
-0.3. An alarm that fires every day at the same hour is noise to a manager, and it hides the real
spells. So once the site's hour of the day has a baseline (`stream.baseline`), a window is bad only
if it is also below the site's usual level there by more than its usual band: the baseline's
day-to-day spread and the window's own sampling error (``sigmas`` of them together), and at least
``least`` of net score; and it is good again once it is back at the usual level (or at
``low_clear``). Until the baseline is ready the absolute level decides alone.
"""

from __future__ import annotations

import math

from stream.baseline import Reference


def unusually_low(net: float, error: float, usual: Reference, sigmas: float, least: float) -> bool:
    """``net`` (a window's net score with sampling error ``error``) is below the usual band of ``usual``."""
    return net < usual.net - max(sigmas * math.hypot(usual.spread, error), least)
