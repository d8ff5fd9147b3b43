"""When the scheduled jobs run next: compaction every N minutes, the report once a week (local time)."""

from __future__ import annotations

import datetime as dt

from onebox.settings import WEEKDAYS


def next_every(now: dt.datetime, minutes: int) -> dt.datetime:
    """The next multiple of `minutes` past midnight after `now` (hourly: on the hour)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = int((now - midnight).total_seconds() // 60)
    return midnight + dt.timedelta(minutes=(elapsed // minutes + 1) * minutes)


def next_weekly(now: dt.datetime, weekday: str, hour: int) -> dt.datetime:
    """The next `weekday` at `hour`:00 strictly after `now`."""
    target = WEEKDAYS.index(weekday)
    day = now.replace(hour=hour, minute=0, second=0, microsecond=0) + dt.timedelta(days=(target - now.weekday()) % 7)
    return day if day > now else day + dt.timedelta(days=7)
