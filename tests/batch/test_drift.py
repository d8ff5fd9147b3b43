"""Drift on synthetic camera-days: stable data drawn from the baseline is not flagged, planted drift is."""

import duckdb
import numpy as np
import pytest

from batch.drift import OWN_MIN_FACES_FACTOR, SHIFTED, Baseline, camera_days, judge, psi, query, reference_baseline
from batch.table_schema import to_arrow_table
from schemas.contract import FACE_EXPRESSION
from schemas.validation import validate_event
from tests.batch.drift_events import BASELINE, DAY_MS, day_of_faces
from tests.schemas.events import EVENT_TIME_MS


def lake_with(events):
    for event in events[:5]:
        assert validate_event(event) == []
    con = duckdb.connect()
    con.register("face_expression_arrow", to_arrow_table(FACE_EXPRESSION, events))
    con.execute("CREATE TABLE face_expression AS SELECT * FROM face_expression_arrow")
    return con


def drift_of(events, baseline=BASELINE, site=None):
    rows = query(lake_with(events), EVENT_TIME_MS - DAY_MS, EVENT_TIME_MS + 30 * DAY_MS, site)
    return camera_days(rows, baseline)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    base = list(BASELINE.shares)
    assert psi(base, base) == pytest.approx(0.0)
    shifted = [0.05, 0.0, 0.02, 0.6, 0.08, 0.05, 0.2]
    more = [0.0, 0.0, 0.0, 0.95, 0.0, 0.0, 0.05]
    assert 0 < psi(base, shifted) < psi(base, more)


def test_stable_data_drawn_from_the_baseline_is_not_flagged():
    rng = np.random.default_rng(1)
    events = [e for day in range(5) for e in day_of_faces(rng, day, "cam-a", BASELINE.shares)]
    days = drift_of(events)
    assert len(days) == 5
    assert all(d.psi is not None and d.psi < SHIFTED for d in days), [d.psi for d in days]
    assert all(d.verdict in {"stable", "some change"} for d in days)
    assert all(0.05 < d.low_quality_share < 0.16 for d in days)
    assert all(d.mean_confidence == pytest.approx(0.7) for d in days)


def test_planted_drift_is_flagged_on_the_camera_and_days_it_was_planted():
    rng = np.random.default_rng(2)
    skewed = np.array([0.02, 0.0, 0.01, 0.15, 0.02, 0.05, 0.75])  # a dim camera: everyone "neutral"
    events = [e for day in range(4) for e in day_of_faces(rng, day, "cam-a", BASELINE.shares)]
    events += [e for day in range(2) for e in day_of_faces(rng, day, "cam-b", BASELINE.shares)]
    events += [e for day in range(2, 4) for e in day_of_faces(rng, day, "cam-b", skewed / skewed.sum())]
    verdicts = {(d.camera_id, d.day[-2:]): d.verdict for d in drift_of(events)}
    drifted = {key for key, verdict in verdicts.items() if verdict == "DRIFT"}
    assert {cam for cam, _ in drifted} == {"cam-b"} and len(drifted) == 2


def test_too_few_faces_give_no_number_and_unusable_faces_do_not_vote():
    rng = np.random.default_rng(3)
    few = day_of_faces(rng, 0, "cam-a", BASELINE.shares, n=50)
    [day] = drift_of(few)
    assert day.psi is None and day.verdict == "too few faces"
    blurry = day_of_faces(rng, 1, "cam-a", np.array([0, 0, 0, 0, 0, 0, 1.0]), n=300, usable_share=0.0)
    [only] = drift_of(blurry)
    assert only.faces == 0 and only.low_quality_share == 1.0 and only.psi is None


def test_a_sites_own_reference_period_can_be_the_baseline():
    rng = np.random.default_rng(4)
    site_mix = np.array([0.02, 0.0, 0.01, 0.5, 0.02, 0.05, 0.4])  # far from FER2013, but normal here
    events = [e for day in range(6) for e in day_of_faces(rng, day, "cam-a", site_mix / site_mix.sum())]
    days = drift_of(events)
    assert all(d.verdict == "DRIFT" for d in days)  # against FER2013 everything looks drifted...
    own = reference_baseline(days[:3], "first 3 days")
    assert all(d.verdict != "DRIFT" for d in camera_days_again(events, own))  # ...against itself, nothing


def camera_days_again(events, baseline):
    return drift_of(events, baseline)


def test_a_card_without_a_baseline_is_named():
    with pytest.raises(ValueError, match="drift_baseline"):
        Baseline.from_card({"version": "1"})


# ------------------------------------------------------------------------------------------------ own history

SITE_MIX = np.array([0.02, 0.0, 0.01, 0.5, 0.02, 0.05, 0.4])  # a restaurant: far from FER2013, normal here
DIM = np.array([0.02, 0.0, 0.01, 0.15, 0.02, 0.05, 0.75])  # the camera dimmed: everyone "neutral"


def judged(events, since_day, until_day, own_days=14):
    con = lake_with(events)
    return judge(con, EVENT_TIME_MS + since_day * DAY_MS, EVENT_TIME_MS + until_day * DAY_MS, None, BASELINE,
                 own_days, timezone="UTC")


def test_a_camera_is_judged_against_its_own_past_once_it_has_one_and_against_the_card_before():
    rng = np.random.default_rng(5)
    events = [e for day in range(10) for e in day_of_faces(rng, day, "cam-a", SITE_MIX / SITE_MIX.sum())]
    days = judged(events, 0, 10)
    assert len(days) == 10
    # 400 faces a day, 90% usable: from the third day the camera's own past holds 5 x 100 usable faces
    needed = OWN_MIN_FACES_FACTOR * 100
    first_own = next(i for i, d in enumerate(days) if d.baseline == "own 14 days")
    assert sum(d.faces for d in days[:first_own]) >= needed > sum(d.faces for d in days[:first_own - 1])
    assert all(d.baseline == BASELINE.source and d.verdict == "DRIFT" for d in days[:first_own])  # vs FER2013
    assert all(d.verdict == "stable" for d in days[first_own:])  # vs itself: nothing changed
    assert [d.baseline for d in judged(events, 0, 10, own_days=0)] == [BASELINE.source] * 10


def test_a_camera_that_changes_is_flagged_against_its_own_past_on_the_days_it_changed():
    rng = np.random.default_rng(6)
    events = [e for day in range(8) for e in day_of_faces(rng, day, "cam-a", SITE_MIX / SITE_MIX.sum())]
    events += [e for day in range(8, 10) for e in day_of_faces(rng, day, "cam-a", DIM / DIM.sum())]
    events += [e for day in range(10) for e in day_of_faces(rng, day, "cam-b", SITE_MIX / SITE_MIX.sum())]
    # The period judged starts after the history: days 0-5 are read only as the cameras' past.
    days = {(d.camera_id, day_index(d)): d for d in judged(events, 6, 10)}
    assert sorted(days) == [(camera, day) for camera in ("cam-a", "cam-b") for day in range(6, 10)]
    assert {key for key, d in days.items() if d.verdict == "DRIFT"} == {("cam-a", 8), ("cam-a", 9)}
    assert all(d.baseline == "own 14 days" for d in days.values())


def day_index(day) -> int:
    import datetime as dt

    first = dt.datetime.fromtimestamp(EVENT_TIME_MS / 1000, dt.UTC).date()
    return (dt.date.fromisoformat(day.day) - first).days


def test_only_the_days_before_count_as_a_camera_s_past():
    rng = np.random.default_rng(8)
    events = [e for day in range(4) for e in day_of_faces(rng, day, "cam-a", SITE_MIX / SITE_MIX.sum())]
    events += [e for day in range(4, 6) for e in day_of_faces(rng, day, "cam-a", DIM / DIM.sum())]
    days = judged(events, 0, 6, own_days=2)
    # own_days=2: day 5 is compared with days 3 and 4 (one normal, one dim), not with days 0-2
    expected = reference_baseline(days[3:5], "")
    assert days[5].psi == pytest.approx(psi(expected.shares, days[5].shares))


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", None])
def test_a_camera_day_is_the_sites_local_day(zone):
    """UTC+14 and UTC-11 are 25 hours apart: the same faces fall on two different local dates."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    events = day_of_faces(np.random.default_rng(5), 0, "door", BASELINE.shares, n=200)
    con = lake_with(events)
    site = events[0]["site_id"]
    if zone is not None:
        con.register("sites", pa.table({"site_id": [site], "timezone": [zone]}))
    days = {d.day for d in camera_days(query(con, EVENT_TIME_MS - DAY_MS, EVENT_TIME_MS + DAY_MS, site), BASELINE)}
    expected = {dt.datetime.fromtimestamp(e["event_time_ms"] / 1000, ZoneInfo(zone or "UTC")).date().isoformat()
                for e in events}
    assert days == expected
