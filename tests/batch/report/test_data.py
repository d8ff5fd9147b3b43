"""Report tables: alarm episodes from state changes, offline spans from camera hours."""

from __future__ import annotations

import pandas as pd

from batch.report.data import alarm_episodes, offline_spans

HOUR_MS = 3_600_000


def test_alarm_episodes_pair_raise_and_clear_per_rule_and_camera() -> None:
    alarms = pd.DataFrame([
        (100, "s", None, "low_sentiment", "ALARM", "low"),
        (150, "s", "cam", "camera_silent", "ALARM", "silent"),
        (200, "s", None, "sentiment_drop", "ALARM", "drop"),
        (300, "s", None, "low_sentiment", "OK", "ok"),
        (350, "s", None, "low_sentiment", "OK", "a second OK changes nothing"),
    ], columns=["time_ms", "site_id", "camera_id", "rule", "state", "reason"])
    episodes = alarm_episodes(alarms, until_ms=1000)
    site = sorted((start, end) for start, end, _ in episodes[("s", None)])
    assert site == [(100, 300), (200, 1000)]  # the drop is still raised at the end of the period
    assert [(start, end) for start, end, _ in episodes[("s", "cam")]] == [(150, 1000)]


def test_offline_spans_merge_consecutive_hours_per_camera() -> None:
    hours = [h * HOUR_MS for h in (0, 1, 2, 5, 6)] + [0]
    status = pd.DataFrame({"site_id": "s", "camera_id": ["a"] * 5 + ["b"], "hour_ms": hours,
                           "offline": [True, True, False, True, True, True]})
    spans = offline_spans(status)
    assert spans[["camera_id", "from_ms", "to_ms", "hours"]].values.tolist() == [
        ["a", 0, 2 * HOUR_MS, 2], ["a", 5 * HOUR_MS, 7 * HOUR_MS, 2], ["b", 0, HOUR_MS, 1]]
