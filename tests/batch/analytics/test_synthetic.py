"""The synthetic history: valid, deterministic, and shaped like a real business week."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from batch.analytics.drivers import parse_business_events
from batch.analytics.synthetic import HistoryConfig, business_csv_lines, generate_history, opening_hours, site_profiles
from schemas.validation import validate_event
from tests.support.history import history

HOUR_MS = 3_600_000


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_every_event_is_contract_valid_and_ids_are_unique() -> None:
    events = generate_history(HistoryConfig(sites=3, days=3, seed=7)).events
    assert len(events) > 1000
    problems = [(e["event_id"], validate_event(e)) for e in events if validate_event(e)]
    assert problems == []
    assert len({e["event_id"] for e in events}) == len(events)
    kinds = Counter((e["schema"], e.get("kind")) for e in events)
    assert kinds[("face_expression", "track_end")] == kinds[("face_expression", "track_update")]
    assert kinds[("camera_heartbeat", None)] > 0


def test_same_seed_same_events_other_seed_other_events() -> None:
    small = HistoryConfig(sites=2, days=2, seed=3)
    assert generate_history(small).events == generate_history(small).events
    other = generate_history(HistoryConfig(sites=2, days=2, seed=4)).events
    assert [e["event_id"] for e in other] != [e["event_id"] for e in generate_history(small).events]


def test_visits_only_in_opening_hours_and_a_lunch_peak() -> None:
    h = history()
    profiles = dict(site_profiles(3))
    by_hour: Counter[tuple[str, int]] = Counter()
    for event in h.events:
        if event["schema"] != "face_expression" or event["kind"] != "track_end":
            continue
        when = _when(event["event_time_ms"] - event["duration_ms"])  # when the visit began
        assert when.hour in opening_hours(profiles[event["site_id"]], when.weekday()), (event["site_id"], when)
        by_hour[(event["site_id"], when.hour)] += 1
    assert by_hour[("cafe-central", 12)] > 1.5 * by_hour[("cafe-central", 8)]  # lunch
    assert by_hour[("cinema-north", 20)] > 1.5 * by_hour[("cinema-north", 15)]  # evening show
    shop_days = {_when(e["event_time_ms"] - e["duration_ms"]).weekday() for e in h.events
                 if e["site_id"] == "shop-east" and e["schema"] == "face_expression" and e["kind"] == "track_end"}
    assert shop_days == {0, 1, 2, 3, 4, 5}  # closed on Sundays


def test_silent_camera_sends_nothing_while_unplugged_and_other_cameras_do() -> None:
    h = history()
    silent = next(i for i in h.incidents if i.kind == "silent_camera")
    during = [e for e in h.events
              if e["site_id"] == silent.site_id and silent.start_ms <= e["event_time_ms"] < silent.end_ms]
    assert during and all(e["camera_id"] != silent.camera_id for e in during)
    assert any(e["camera_id"] == silent.camera_id and e["event_time_ms"] < silent.start_ms for e in h.events)


def test_weekends_are_busier_at_the_cafe() -> None:
    h = history()
    ends = [e for e in h.events if e["schema"] == "face_expression" and e["kind"] == "track_end"]
    visits = Counter(_when(e["event_time_ms"]).weekday() for e in ends if e["site_id"] == "cafe-central")
    assert visits[5] > visits[1]


def test_business_csv_is_readable_by_the_drivers_parser() -> None:
    h = history()
    rows = parse_business_events(list(business_csv_lines(h)))
    assert len(rows) == len(h.business)
    assert set(rows["kind"]) == {"promotion", "queue_length", "new_playlist"}
    assert set(rows["site_id"]) == set(h.sites)
