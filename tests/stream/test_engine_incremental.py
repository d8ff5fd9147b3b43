"""The engine's window sums are kept incrementally (added on arrival, subtracted on expiry): they must
equal the windows summed from scratch over the events the engine accepted, whatever the arrival order,
retries, late events, batch cuts and restarts from a snapshot in between."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.engine import MINUTE_MS, EngineConfig, EngineOutput, WindowEngine
from tests.stream.helpers import event_streams
from tests.stream.test_engine import reference_windows

CONFIG = EngineConfig(window_minutes=(2, 7), allowed_lateness_ms=60_000, min_tracks=1, dedup_horizon_ms=180_000)


def arrivals(events: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Each event delayed by up to 3 minutes (beyond the allowed lateness: some arrive late), a fifth
    of them sent again later (a retry: an equal copy, delayed again)."""
    timed = []
    for i, event in enumerate(events):
        timed.append((event["event_time_ms"] + rng.randrange(3 * MINUTE_MS), i, event))
        if rng.random() < 0.2:
            timed.append((event["event_time_ms"] + rng.randrange(6 * MINUTE_MS), len(events) + i, dict(event)))
    return [event for _, _, event in sorted(timed, key=lambda x: (x[0], x[1]))]


def accepted(arrived: list[dict[str, Any]], late: list[Any]) -> list[dict[str, Any]]:
    """What the engine kept: of each id the first copy to arrive, unless that copy was late (a later
    copy is then late or a duplicate too: the watermark never goes back)."""
    late_copies = {id(event) for event in late}
    first: dict[str, dict[str, Any]] = {}
    for event in arrived:
        first.setdefault(event["event_id"], event)
    return sorted((e for e in first.values() if id(e) not in late_copies),
                  key=lambda e: (e["event_time_ms"], e["event_id"]))


@settings(max_examples=150, deadline=None)
@given(event_streams(max_minutes=30, max_events=120), st.randoms(use_true_random=False),
       st.lists(st.integers(0, 40), max_size=8), st.sets(st.integers(0, 8), max_size=4))
def test_incremental_windows_equal_a_resum_over_the_accepted_events(events, rng, cuts, restarts) -> None:
    arrived = arrivals(events, rng)
    engine = WindowEngine(CONFIG)
    out = EngineOutput()
    start = 0
    for n, size in enumerate([*cuts, len(arrived)]):
        out.extend(engine.process(arrived[start:start + size]))
        start += size
        if n in restarts:  # a host restarted from the state it saved
            engine = WindowEngine.restore(json.loads(json.dumps(engine.snapshot())))
    out.extend(engine.flush())
    kept = accepted(arrived, out.late)
    assert engine.stats.accepted == len(kept)
    assert out.windows == reference_windows(kept, CONFIG)


def test_a_track_voting_again_moves_out_of_the_minute_it_left() -> None:
    """One track seen in minute 0 and again in minute 3: every window holds it once, with its latest vote."""
    from tests.stream.helpers import T0, face

    config = EngineConfig(window_minutes=(2, 5), allowed_lateness_ms=0, min_tracks=1)
    events = [face(T0 + 1_000, "t1", top="happy"), face(T0 + 3 * MINUTE_MS + 1_000, "t1", top="sad", n=1)]
    engine = WindowEngine(config)
    out = engine.process(events)
    out.extend(engine.flush())
    assert out.windows == reference_windows(events, config)
    at_4 = {(w["camera_id"], w["window_minutes"]): w for w in out.windows if w["window_end_ms"] == T0 + 4 * MINUTE_MS}
    assert at_4[("cam-a", 5)]["tracks"] == 1 and at_4[("cam-a", 5)]["shares"]["sad"] == 1.0
