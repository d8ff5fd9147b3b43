"""The tests' stand-in for CloudWatch's alarm evaluation (tests/deploy/alarm_rules.py) does what the
CloudWatch documentation says for the cases the silence alarms use."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.deploy.alarm_rules import Composite, metric_state, notifications

MINUTE = 60_000
RULE = {"Period": 60, "EvaluationPeriods": 5, "DatapointsToAlarm": 5, "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold", "TreatMissingData": "breaching"}


@given(st.sets(st.integers(0, 19)), st.integers(5, 20))
def test_the_silence_rule_alarms_exactly_when_the_last_five_minutes_have_no_datapoint(minutes: set[int],
                                                                                        now: int) -> None:
    data = {m * MINUTE: 1.0 for m in minutes}
    silent = not any(now - 5 <= m < now for m in minutes)
    assert metric_state(RULE, data, now * MINUTE + 30_000) == ("ALARM" if silent else "OK")


def test_missing_data_not_breaching_never_alarms_and_m_of_n_counts_breaching_periods() -> None:
    assert metric_state({**RULE, "TreatMissingData": "notBreaching"}, {}, 10 * MINUTE) == "OK"
    two_of_three = {**RULE, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
                    "ComparisonOperator": "GreaterThanThreshold"}
    assert metric_state(two_of_three, {7 * MINUTE: 2.0, 9 * MINUTE: 3.0}, 10 * MINUTE) == "ALARM"
    assert metric_state(two_of_three, {6 * MINUTE: 2.0, 9 * MINUTE: 3.0}, 10 * MINUTE) == "OK"


def _sent(camera: list[str], consumer: list[str]) -> list[tuple[int, str, str]]:
    composite = Composite("camera-silent", child="heartbeats", suppressor="consumer", wait_s=120, extension_s=180)
    minutes = [i * MINUTE for i in range(len(camera))]
    return notifications([composite], {"heartbeats": camera, "consumer": consumer}, minutes, [])


def test_a_camera_message_goes_out_unless_the_suppressor_is_raised_within_the_wait_or_left_it_lately() -> None:
    ok, alarm = "OK", "ALARM"
    assert _sent([ok, alarm, alarm, alarm, alarm], [ok] * 5) == [(MINUTE, "camera-silent", alarm)]
    assert _sent([ok, alarm, alarm, alarm, alarm], [ok, ok, ok, alarm, alarm]) == []  # raised 2 min later
    assert _sent([ok, alarm, alarm, alarm, alarm], [ok, ok, ok, ok, alarm]) == [(MINUTE, "camera-silent", alarm)]
    assert _sent([alarm, alarm, alarm, ok, ok], [alarm, alarm, ok, ok, ok]) == []  # cleared 1 min after it
    assert _sent([alarm] * 5 + [ok], [alarm, ok, ok, ok, ok, ok]) == [(5 * MINUTE, "camera-silent", ok)]
