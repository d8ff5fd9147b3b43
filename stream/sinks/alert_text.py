"""An alarm as a message, for a manager reading it on a phone: the one text of every channel.

The box sends it through Apprise (``onebox.alerts``), the AWS host publishes it to the SNS topic
(``stream.sinks.aws.SnsAlarmSink``). The alarm's reason says what happened, where, since when and how
bad (its words are `stream.alarm_words`', not re-explained here); the message adds the site and camera by
the names people use (also in the reason), the local time, what the net score of the window the alarm was
judged on means in customers (when there is one), and a link to the live page. A clear says how long
the alarm lasted, when the sender knows when it told of the raise. A window readers get hidden
(`stream.published`) shows no score here either: an alarm judged on it says why in its reason (said once),
and its ``value`` is null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.alarm_words import HAPPENED, named, says_latest_not_shown

__all__ = ["HAPPENED", "Names", "alarm_text", "describe_window", "how_long", "local_time", "net_words", "report_text",
           "window_key"]


@dataclass(frozen=True)
class Names:
    """How people call the site and its cameras; ids where no name is known."""

    site: str = ""
    cameras: Mapping[str, str] = field(default_factory=dict)
    page_url: str = ""
    timezone: dt.tzinfo | None = None  # None: the machine's local time

    def camera(self, camera_id: str | None) -> str:
        return self.cameras.get(camera_id, camera_id) if camera_id else ""


def window_key(site: str, camera: str | None, minutes: int, end_ms: int) -> tuple[str, str, int, int]:
    """How a window is found for an alarm: an alarm judged on a window has that window's end as its time."""
    return (site, camera or "", minutes, end_ms)


def local_time(time_ms: int, timezone: dt.tzinfo | None) -> str:
    moment = dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).astimezone(timezone)
    return f"{moment:%a %d %b %Y, %H:%M} ({moment.tzname() or 'local time'})"


def how_long(duration_ms: int) -> str:
    """A duration as people say it: "47 minutes", "2 h 05 min", "3 days 4 h"."""
    minutes = max(0, round(duration_ms / 60_000))
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(round(minutes / 60), 24)  # to the hour: minutes say nothing after days
    return f"{days} day{'s' if days != 1 else ''} {hours} h"


def describe_window(window: Mapping[str, Any], timezone: dt.tzinfo | None) -> str:
    """What the window's net score means in customers, and how sure it is with so many of them."""
    ci = window.get("net_score_ci") or {}
    end = dt.datetime.fromtimestamp(window["window_end_ms"] / 1000, dt.UTC).astimezone(timezone)
    customers = window["tracks"]
    if window.get("net_score") is None or window.get("insufficient_data"):
        # a window with enough customers is hidden too beside a camera with too few (`stream.published`)
        return (f"No score shown for the {_minutes(window['window_minutes'])} to {end:%H:%M} ({customers} seen): "
                "too few customers, or hidden so that a camera beside it with too few cannot be worked out.")
    likely = f", likely between {ci['low']:+.2f} and {ci['high']:+.2f} with so few" if ci else ""
    return (f"In the {_minutes(window['window_minutes'])} to {end:%H:%M}, {net_words(window['net_score'])} "
            f"({customers} customer{'s' if customers != 1 else ''}: net score {window['net_score']:+.2f}{likely}).")


def _minutes(count: int) -> str:
    return "minute" if count == 1 else f"{count} minutes"


def net_words(net: float) -> str:
    """What a net score means (each customer counts +1 happy, -1 unhappy, 0 neither; the score is their mean)."""
    per_hundred = round(abs(net) * 100)
    if per_hundred == 0:
        return "about as many customers looked happy as unhappy"
    more = "unhappy than happy" if net < 0 else "happy than unhappy"
    return f"for every 100 customers, {per_hundred} more looked {more}"


def alarm_text(alarm: Mapping[str, Any], names: Names, window: Mapping[str, Any] | None = None,
               raised_ms: int | None = None) -> tuple[str, str]:
    """(title, body) of one alarm state change; ``raised_ms``: for a clear, the time of the raise people were told."""
    site = names.site or alarm["site_id"]
    camera = names.camera(alarm.get("camera_id"))
    where = f"{site}, {camera}" if camera else site
    happened = HAPPENED.get((alarm["rule"], alarm["state"]), f"{alarm['rule']} {alarm['state']}")
    prefix = "ALARM" if alarm["state"] == "ALARM" else "Resolved"
    title = f"{prefix} at {where}: {happened}"
    reason = named(alarm["reason"], alarm["site_id"], alarm.get("camera_id"), names.site, camera).rstrip(". ")
    lines = [f"{where}, {local_time(alarm['event_time_ms'], names.timezone)}:", f"{reason[:1].upper()}{reason[1:]}."]
    if alarm["state"] == "OK" and raised_ms is not None and raised_ms <= alarm["event_time_ms"]:
        lines.append(f"Lasted {how_long(alarm['event_time_ms'] - raised_ms)}, "
                     f"since {local_time(raised_ms, names.timezone)}.")
    if window is not None and not (window.get("insufficient_data")
                                   and says_latest_not_shown(alarm["reason"], window["window_minutes"])):
        lines.append(describe_window(window, names.timezone))  # unless the reason said why it is not shown
    if names.page_url:
        lines.append(f"Live page: {names.page_url}")
    return title[:200], "\n".join(lines)


def report_text(site: str, report: str, link: str, made_ms: int, timezone: dt.tzinfo | None) -> tuple[str, str]:
    """(title, body) of the weekly report's message: dated, as every week's report file has the same name."""
    day = dt.datetime.fromtimestamp(made_ms / 1000, dt.UTC).astimezone(timezone)
    body = f"The weekly report for {site}, made {local_time(made_ms, timezone)}, is attached ({report})."
    if link:
        body += f"\nOpen it: {link}"
    return f"Weekly report for {site}, {day:%a %d %b %Y}", body
