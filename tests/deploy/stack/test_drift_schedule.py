"""The stack's hourly schedules judge every zone's local day within about an hour and a half of its end, and
only after a compaction that started once the day's last events could have left Firehose's buffer: the
schedules read from the committed template, the rule from batch.drift_due, the days from the pinned tzdata."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batch.drift import day_start_ms
from batch.drift_due import last_ended_day
from tests.deploy.stack.test_template import TEMPLATE, of_type

HOUR_MS, MINUTE_MS = 3_600_000, 60_000
ZONES = sorted(zoneinfo.available_timezones() - {"localtime"})


def hourly_minute(expression: str) -> int:
    match = re.fullmatch(r"cron\((\d+) \* \* \* \? \*\)", expression)
    assert match, f"{expression}: not an hourly cron"
    return int(match.group(1))


@pytest.fixture(scope="module")
def plan() -> tuple[int, int, int]:
    """(compaction minute, drift minute, the longest Firehose buffer in ms), from the committed template."""
    template: dict[str, Any] = json.loads(TEMPLATE.read_text())
    schedules = of_type(template, "AWS::Scheduler::Schedule")
    buffers = [hints["IntervalInSeconds"] * 1000 for stream in of_type(template, "AWS::KinesisFirehose::DeliveryStream")
               .values() for destination in stream.values() if isinstance(destination, dict)
               if (hints := destination.get("BufferingHints"))]
    assert buffers
    assert all(s["ScheduleExpressionTimezone"] == "UTC" for s in schedules.values())
    return (hourly_minute(schedules["CompactionSchedule"]["ScheduleExpression"]),
            hourly_minute(schedules["DriftSchedule"]["ScheduleExpression"]), max(buffers))


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), day=st.dates(dt.date(2024, 1, 1), dt.date(2035, 12, 31)))
@example(zone="Asia/Kathmandu", day=dt.date(2026, 10, 7))  # ends at :15 UTC
@example(zone="Asia/Kolkata", day=dt.date(2026, 10, 7))  # :30
@example(zone="Pacific/Chatham", day=dt.date(2026, 9, 27))  # :15, on its DST day
@example(zone="America/St_Johns", day=dt.date(2026, 11, 1))  # :30, on its DST day
@example(zone="America/Los_Angeles", day=dt.date(2026, 11, 1))
def test_each_zones_day_is_judged_after_its_compaction_and_within_90_minutes(
        plan: tuple[int, int, int], zone: str, day: dt.date) -> None:
    compaction_minute, drift_minute, buffer_ms = plan
    end = day_start_ms(day + dt.timedelta(days=1), zone)
    hour = end - end % HOUR_MS
    runs = [hour + h * HOUR_MS + drift_minute * MINUTE_MS for h in range(-1, 4)]
    judged_at = next(t for t in runs if last_ended_day(zone, t) >= day)
    assert last_ended_day(zone, judged_at - HOUR_MS) < day  # the run before left it: judged by the first one due
    assert 0 < judged_at - end <= 90 * MINUTE_MS
    compaction = judged_at - judged_at % HOUR_MS + compaction_minute * MINUTE_MS
    assert end + buffer_ms <= compaction < judged_at
