"""CloudWatch's alarm evaluation, as far as the stack's silence alarms use it, for tests: moto stores
alarms but never evaluates them, and has no composite alarms at all.

`metric_state` applies a metric alarm's definition (Period, EvaluationPeriods, DatapointsToAlarm,
Statistic's datapoints, ComparisonOperator, Threshold, TreatMissingData breaching/notBreaching) to the
datapoints of its metric at one moment: the last EvaluationPeriods whole periods before it.
`notifications` follows composite alarms of the form ``ALARM("<child>")`` with an ActionsSuppressor
minute by minute and returns the messages that go out, with the documented suppression: none while
the suppressor is in ALARM, none when it goes to ALARM within ActionsSuppressorWaitPeriod of the
composite's change, none within ActionsSuppressorExtensionPeriod after it left ALARM.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le,
    "GreaterThanThreshold": operator.gt, "GreaterThanOrEqualToThreshold": operator.ge}


def metric_state(alarm: Mapping[str, Any], datapoints: Mapping[int, float], now_ms: int) -> str:
    """ALARM or OK of a metric alarm (as put_metric_alarm takes it) at `now_ms`; `datapoints`: period
    start (ms) -> the alarm's statistic of that period."""
    period_ms = int(alarm["Period"]) * 1000
    periods = int(alarm["EvaluationPeriods"])
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    missing = alarm.get("TreatMissingData", "missing")
    if missing not in ("breaching", "notBreaching"):
        raise NotImplementedError(f"TreatMissingData {missing} is not followed here")
    compare = COMPARE[alarm["ComparisonOperator"]]
    end = now_ms // period_ms * period_ms
    breaching = 0
    for start in range(end - periods * period_ms, end, period_ms):
        value = datapoints.get(start)
        breaching += (missing == "breaching") if value is None else compare(value, float(alarm["Threshold"]))
    return "ALARM" if breaching >= needed else "OK"


@dataclass(frozen=True)
class Composite:
    name: str
    child: str  # the one metric alarm of its rule ALARM("<child>")
    suppressor: str
    wait_s: int
    extension_s: int


def notifications(composites: Sequence[Composite], states: Mapping[str, Sequence[str]], minutes: Sequence[int],
                  metric_actions: Sequence[str]) -> list[tuple[int, str, str]]:
    """(time ms, alarm, state) of every message sent over `minutes` (evaluation times, one a minute),
    given each metric alarm's state at those times; the first minute is the state things start in.
    `metric_actions`: the metric alarms that have actions of their own."""
    sent: list[tuple[int, str, str]] = []
    for name in metric_actions:
        sent += [(minutes[i], name, states[name][i]) for i in range(1, len(minutes))
                 if states[name][i] != states[name][i - 1]]
    for composite in composites:
        child, suppressor = states[composite.child], states[composite.suppressor]
        for i in range(1, len(minutes)):
            if child[i] == child[i - 1]:
                continue
            at = minutes[i]
            waited = [j for j in range(i, len(minutes)) if minutes[j] - at <= composite.wait_s * 1000]
            left = [j for j in range(1, i + 1) if suppressor[j - 1] == "ALARM" and suppressor[j] != "ALARM"]
            held = (any(suppressor[j] == "ALARM" for j in waited)
                    or any(at - minutes[j] < composite.extension_s * 1000 for j in left))
            if not held:
                sent.append((at, composite.name, child[i]))
    return sorted(sent)
