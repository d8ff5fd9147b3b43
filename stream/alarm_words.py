"""What every alarm says, in the words of a shift manager reading it on a phone's lock screen.

The one wording of the alarms' ``reason`` (written by `stream.alarms` and the rules beside it) and of
what happened in a message's title (``HAPPENED``, used by `stream.sinks.alert_text`): what happened,
where, since when, and how bad, as a net score against the alarm's level or the site's usual one and
over how many customers. No statistics words: a score "clearly below" its usual level is one the rules
found too far below to be chance.

A net score is the customers' mood in one number: each counts +1 happy, -1 unhappy, 0 neither, and the
score is their mean (-0.35: for every 100 customers, 35 more looked unhappy than happy).

An alarm judged on a window its readers get hidden (`stream.published`) says why that window is not
shown instead of its score (`latest_not_shown`).

Where: a reason names its place as the alarm gives it (``camera cam-2``, ``site cafe-7``); a sender that
knows the names people use puts them in its place (`named`).
"""

from __future__ import annotations

import re

# (rule, state) -> what happened, in a message's title
HAPPENED = {
    ("low_sentiment", "ALARM"): "customers look unhappy",
    ("low_sentiment", "OK"): "customers look fine again",
    ("sentiment_drop", "ALARM"): "customers look less happy than usual for this hour",
    ("sentiment_drop", "OK"): "customers are back to what is usual for this hour",
    ("camera_silent", "ALARM"): "the camera is not working",
    ("camera_silent", "OK"): "the camera works again",
    ("site_unreachable", "ALARM"): "the site sends nothing (its internet link or box is down)",
    ("site_unreachable", "OK"): "the site sends again",
}


def place(site: str, camera: str | None) -> str:
    """Where an alarm is, as its reason says it: the camera, or the whole site (its cameras together)."""
    return f"camera {camera}" if camera else f"site {site}"


def named(reason: str, site: str, camera: str | None, site_name: str = "", camera_name: str = "") -> str:
    """``reason`` with the place its alarm gives (`place`) said by the name people use, where one is known."""
    name = camera_name if camera else site_name
    if not name or name == (camera or site):
        return reason
    return reason.replace(place(site, camera), name)


def score(net: float) -> str:
    return f"{net:+.2f}"


def customers(count: int) -> str:
    return f"{count} customer{'' if count == 1 else 's'}"


def duration(minutes: float) -> str:
    """Minutes as people say them: "12 minutes", "1 h 05 min"."""
    whole = max(0, round(minutes))
    if whole < 60:
        return f"{whole} minute{'' if whole == 1 else 's'}"
    return f"{whole // 60} h {whole % 60:02d} min"


def _latest_opening(window_minutes: int) -> str:
    return f"; the last {window_minutes} minutes: "


def _latest(net: float, count: int, window_minutes: int) -> str:
    """The score of the window the alarm was judged on: the last clause of the reasons that tell one."""
    return f"{_latest_opening(window_minutes)[2:]}{score(net)} over {customers(count)}"


def latest_score(reason: str, window_minutes: int) -> tuple[float, int] | None:
    """The net score and customers of the latest window ``reason`` tells (`_latest`, as said: to 2 places);
    None when it tells none."""
    _, opening, clause = reason.rpartition(_latest_opening(window_minutes))
    found = re.fullmatch(r"([+-]\d+\.\d+) over (\d+) customers?", clause) if opening else None
    return (float(found[1]), int(found[2])) if found else None


def says_latest_not_shown(reason: str, window_minutes: int) -> bool:
    """Whether ``reason`` says why its latest window is not shown (`latest_not_shown`) instead of its score."""
    return _latest_opening(window_minutes) in reason and latest_score(reason, window_minutes) is None


def latest_not_shown(reason: str, window_minutes: int, count: int, complement: bool) -> str | None:
    """``reason`` with its latest window's score (`_latest`) replaced by why that window is not shown to
    readers (`stream.published`): too few customers (``count``), or ``complement``: hidden beside a camera
    with too few, whose score it would give back with the site's. None when the reason tells no score of
    its latest window (a sequential drop, a quiet resolve, a reason already without it)."""
    if latest_score(reason, window_minutes) is None:
        return None
    head = reason.rpartition(_latest_opening(window_minutes))[0]
    if complement:
        why = (f"score not shown ({customers(count)}): with the site's score it would give away another "
               f"camera here that had too few customers to show")
    elif count:
        why = f"too few customers to show a score ({customers(count)})"
    else:
        why = "no customers"
    return f"{head}{_latest_opening(window_minutes)}{why}"


def low_raised(where: str, since: str, minutes: float, net: float, count: int, window_minutes: int,
               alarm_level: float, usual: float | None = None, new_site_level: float | None = None,
               hour_of_day: float | None = None) -> str:
    """``low_sentiment`` raised: the score mostly under ``alarm_level`` since ``since`` (a clock time),
    ``minutes`` ago; ``usual``: the site's usual score for this hour, where known; ``new_site_level``: nothing
    learnt of this hour yet, so only a crowd this unhappy counts (``hour_of_day``: the site is new on this
    weekday only, and what its hour of the day has taught still counts)."""
    text = (f"customers at {where} have looked unhappy since about {since} ({duration(minutes)}): "
            f"the net score mostly under the alarm level {score(alarm_level)}")
    if usual is not None:
        text += f" and clearly under the usual {score(usual)} for this hour"
    elif new_site_level is not None:
        new = "at this hour" if hour_of_day is None else "on this weekday"
        also = "" if hour_of_day is None else f", and clearly under its usual {score(hour_of_day)} at this hour"
        text += (f"; the site is new {new}, so only a clearly unhappy crowd counts "
                 f"(under {score(new_site_level)}{also})")
    return f"{text}; {_latest(net, count, window_minutes)}"


def low_cleared(where: str, net: float, count: int, window_minutes: int, ok_level: float,
                usual: float | None = None) -> str:
    back = score(ok_level) if usual is None else f"{score(ok_level)} or the usual {score(usual)} for this hour"
    return (f"customers at {where} look fine again: the net score is mostly back at or above {back}; "
            f"{_latest(net, count, window_minutes)}")


def drop_window_raised(where: str, since: str, minutes: float, net: float, count: int, window_minutes: int,
                       alarm_level: float, usual: float, days: int) -> str:
    """The window drop rule raised: the score mostly under ``alarm_level``, far below the ``usual`` score
    learnt over ``days`` days for this hour of the week."""
    return (f"customers at {where} have looked less happy than usual for this hour of the week since about "
            f"{since} ({duration(minutes)}): the net score mostly under {score(alarm_level)}, where it is usually "
            f"{score(usual)} (learnt over {days} days); {_latest(net, count, window_minutes)}")


def drop_window_cleared(where: str, net: float, count: int, window_minutes: int, ok_level: float,
                        usual: float) -> str:
    return (f"customers at {where} look about as happy as usual again for this hour of the week: the net score "
            f"is mostly back at or above {score(ok_level)}, where it is usually {score(usual)}; "
            f"{_latest(net, count, window_minutes)}")


def _mix(count: int, unhappy: int, happy: int, since: str) -> str:
    """"of 120 customers since then, 40 (33%) looked unhappy and 30 (25%) happy"."""
    if not count:
        return f"no customers {since}"
    return (f"of {customers(count)} {since}, {unhappy} ({unhappy / count:.0%}) looked unhappy and "
            f"{happy} ({happy / count:.0%}) happy")


def drop_raised(where: str, since: str, minutes: float, count: int, unhappy: int, happy: int, net: float | None,
                usual_unhappy: float, usual_happy: float) -> str:
    """The sequential drop rule raised: the customers since the spell's estimated start (``since``)."""
    mix = _mix(count, unhappy, happy, "since then")
    text = (f"customers at {where} have looked less happy than usual for this hour since about {since} "
            f"({duration(minutes)}): {mix}, where usually {usual_unhappy:.0%} look unhappy and {usual_happy:.0%} happy")
    return text if net is None else f"{text}; net score {score(net)}, usually {score(usual_happy - usual_unhappy)}"


def drop_cleared(where: str, since: str, count: int, unhappy: int, happy: int, net: float | None,
                 usual: float) -> str:
    """The sequential drop rule cleared: the latest customers look as usual; the spell's customers since
    its start (``since``)."""
    mix = _mix(count, unhappy, happy, f"since about {since}")
    text = f"customers at {where} look as happy as usual again for this hour; {mix}"
    return text if net is None else f"{text}: net score {score(net)}, usually {score(usual)}"


def quiet_resolved(where: str, minutes: int, since: str) -> str:
    return (f"no customers at {where} for {duration(minutes)} (since about {since}): closed or quiet, nobody "
            f"there to be unhappy, so the alarm is resolved")


def camera_silent(where: str, minutes: float, since: str) -> str:
    """``minutes``: the alarm's value (a tenth of a minute counts while the wait is short)."""
    silent = f"{minutes:.1f} minutes" if minutes < 10 else duration(minutes)
    return (f"{where} has sent no sign of life for {silent} (since about {since}): it may be switched off, "
            f"unplugged or offline")


def camera_back(where: str, at: str) -> str:
    return f"{where} is sending again (its latest sign of life at {at})"


def site_unreachable(where: str, minutes: float, since: str) -> str:
    """``site_unreachable`` raised: nothing from the site's cameras for ``minutes`` of wall clock."""
    return (f"{where} has sent nothing for {duration(minutes)} (since about {since}): its internet link or "
            f"box may be down; what its cameras record meanwhile is kept there and counted once it is back")


def site_back(where: str, minutes: float) -> str:
    return (f"{where} is sending again after {duration(minutes)} without a word; what its cameras kept "
            f"meanwhile is now counted")

