"""An alarm in plain words, for a manager reading it on a phone: the one text of every channel.

The box sends it through Apprise (``onebox.alerts``), the AWS host publishes it to the SNS topic
(``stream.sinks.aws.SnsAlarmSink``). What it says: the site and camera by the names people use, the
local time, what happened, the net score with its interval and how many customers it rests on (from
the window the alarm was judged on, when there is one), why, and a link to the live page. A clear
says how long the alarm lasted, when the sender knows when it told of the raise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# (rule, state) -> what happened, in words
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
    ci = window.get("net_score_ci") or {}
    end = dt.datetime.fromtimestamp(window["window_end_ms"] / 1000, dt.UTC).astimezone(timezone)
    customers = window["tracks"]
    if window.get("net_score") is None or window.get("insufficient_data"):
        return (f"Too few customers to judge in the {window['window_minutes']} minutes to {end:%H:%M} "
                f"({customers} seen).")
    interval = f" (95% interval {ci['low']:+.2f} to {ci['high']:+.2f})" if ci else ""
    return (f"Net score {window['net_score']:+.2f}{interval} from {customers} customer"
            f"{'s' if customers != 1 else ''} in the {window['window_minutes']} minutes to {end:%H:%M}: "
            f"{net_words(window['net_score'])}.")


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
    lines = [f"{where}, {local_time(alarm['event_time_ms'], names.timezone)}:", f"{happened[0].upper()}{happened[1:]}."]
    if alarm["state"] == "OK" and raised_ms is not None and raised_ms <= alarm["event_time_ms"]:
        lines.append(f"Lasted {how_long(alarm['event_time_ms'] - raised_ms)}, "
                     f"since {local_time(raised_ms, names.timezone)}.")
    if window is not None:
        lines.append(describe_window(window, names.timezone))
    lines.append(f"Why: {alarm['reason']}")
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
