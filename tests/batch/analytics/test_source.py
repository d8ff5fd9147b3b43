"""The SQL over the lake's tables counts customers exactly as the events say."""

from __future__ import annotations

from collections import Counter

import duckdb

from batch.analytics.source import Period, hourly_sentiment, known_sites, latest_event_ms, register_events
from schemas.expressions import NEGATIVE, POSITIVE
from tests.schemas import events as samples
from tests.support.history import history, lake

HOUR_MS = 3_600_000


def test_hourly_sentiment_matches_a_count_of_the_events() -> None:
    h = history()
    site, start = "cafe-central", h.start_ms + 3 * 24 * HOUR_MS
    period = Period(start, start + 24 * HOUR_MS, site)
    expected: Counter[tuple[int, str]] = Counter()
    for e in h.events:
        if (e["schema"] == "face_expression" and e["kind"] == "track_end" and e["site_id"] == site
                and period.since_ms <= e["event_time_ms"] < period.until_ms):
            hour = e["event_time_ms"] // HOUR_MS * HOUR_MS
            expected[(hour, "visits")] += 1
            if e["quality"]["usable"]:
                expected[(hour, "tracks")] += 1
                expected[(hour, "positive")] += e["top_class"] in POSITIVE
                expected[(hour, "negative")] += e["top_class"] in NEGATIVE
    frame = hourly_sentiment(lake(), period)
    assert len(frame) == len({hour for hour, _ in expected})
    for row in frame.itertuples():
        for column in ("visits", "tracks", "positive", "negative"):
            assert getattr(row, column) == expected[(row.hour_ms, column)], (row.hour_ms, column)


def test_track_updates_and_low_quality_faces_do_not_count_as_customers() -> None:
    con = duckdb.connect()
    t = samples.EVENT_TIME_MS
    register_events(con, [
        samples.face_expression(event_time_ms=t, kind="track_update", track_id="a"),
        samples.face_expression(event_time_ms=t + 1, kind="track_end", track_id="a", duration_ms=5, frame_count=3),
        samples.face_expression(event_time_ms=t + 2, kind="track_end", track_id="b", duration_ms=5, frame_count=3,
                                quality={"face_px": 20, "sharpness": 1.0, "brightness": 90.0, "usable": False}),
    ])
    frame = hourly_sentiment(con, Period(0, 1 << 47))
    assert frame[["visits", "tracks", "positive"]].values.tolist() == [[2, 1, 1]]
    assert known_sites(con) == ["cafe-1"]
    assert latest_event_ms(con) == t + 2
