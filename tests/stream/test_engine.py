"""The window engine: panes, rolling windows, watermark, late output, dedup, state."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.fast_decode import FastDecoder
from schemas.validation import validate_event
from stream.aggregate import PaneAggregate, WindowAggregate
from stream.engine import MINUTE_MS, EngineConfig, EngineOutput, WindowEngine, _fingerprint
from stream.jsonl import dumps
from stream.measures import window_event
from tests.stream.helpers import T0, beat, event_streams, face

SETTINGS = settings(max_examples=60, deadline=None)
DECODER = FastDecoder(["face_expression", "camera_heartbeat"])
CONFIG = EngineConfig(window_minutes=(1, 3, 5), allowed_lateness_ms=60_000, min_tracks=1,
                      dedup_horizon_ms=120_000)


def run(events: list[dict[str, Any]], config: EngineConfig = CONFIG, batches: list[int] | None = None
        ) -> tuple[WindowEngine, EngineOutput]:
    engine = WindowEngine(config)
    out = EngineOutput()
    start = 0
    for size in batches or []:
        out.extend(engine.process(events[start:start + size]))
        start += size
    out.extend(engine.process(events[start:]))
    out.extend(engine.flush())
    return engine, out


def reference_windows(events: list[dict[str, Any]], config: EngineConfig) -> list[dict[str, Any]]:
    """Brute force: every window from scratch, merging PaneAggregates (no event late or duplicated)."""
    panes: dict[tuple[str, str], dict[int, PaneAggregate]] = defaultdict(dict)
    active: dict[tuple[str, str], set[int]] = defaultdict(set)
    for event in events:
        minute = event["event_time_ms"] // MINUTE_MS
        panes[(event["site_id"], event["camera_id"])].setdefault(minute, PaneAggregate()).add(event)
        if event["schema"] == "face_expression":
            active[(event["site_id"], event["camera_id"])].add(minute)
    if not active:
        return []
    longest = max(config.window_minutes)
    first = min(min(m) for m in active.values())
    last = max(max(m) for m in active.values())
    windows = []
    for end_minute in range(first + 1, last + longest + 2):
        end = end_minute * MINUTE_MS
        keys = sorted(k for k, minutes in active.items() if any(end_minute - longest <= m < end_minute
                                                                 for m in minutes))
        for site in sorted({k[0] for k in keys}):
            cameras = [k for k in keys if k[0] == site]
            per_camera = {k: {length: WindowAggregate.from_panes(
                p for m, p in panes[k].items() if end_minute - length <= m < end_minute)
                for length in config.window_minutes} for k in cameras}
            for length in config.window_minutes:
                total = WindowAggregate()
                for k in cameras:
                    total = total + per_camera[k][length]
                windows.append(window_event(site, None, end, length, total, config.min_tracks))
            for k in cameras:
                for length in config.window_minutes:
                    windows.append(window_event(site, k[1], end, length, per_camera[k][length],
                                                config.min_tracks))
    return windows


def test_window_counts_tracks_once_with_latest_vote_and_keeps_low_quality_apart() -> None:
    events = [face(T0 + 1_000, "t1", top="sad"), face(T0 + 2_000, "t1", top="happy"),
              face(T0 + 3_000, "t2", top="angry"), face(T0 + 4_000, "t3", usable=False),
              face(T0 + 5_000, "t2", top="angry", kind="track_end")]
    config = EngineConfig(window_minutes=(1,), min_tracks=2)
    _, out = run(events, config)
    site, camera = out.windows[0], out.windows[1]
    assert (site["camera_id"], camera["camera_id"]) == (None, "cam-a")
    for window in (site, camera):
        assert validate_event(window) == []
        assert (window["window_start_ms"], window["window_end_ms"]) == (T0, T0 + MINUTE_MS)
        assert (window["tracks"], window["faces"], window["low_quality_faces"]) == (2, 3, 1)
        assert window["shares"]["happy"] == 0.5 and window["shares"]["angry"] == 0.5
        assert window["net_score"] == 0.0
        assert window["mean_valence"] == pytest.approx((1.0 - 0.8) / 2)


@pytest.mark.parametrize(("tracks", "min_tracks", "insufficient"), [(1, 2, True), (2, 2, False), (4, 5, True)])
def test_below_minimum_tracks_the_window_says_insufficient_data(tracks: int, min_tracks: int,
                                                                 insufficient: bool) -> None:
    events = [face(T0 + i, f"t{i}") for i in range(tracks)]
    _, out = run(events, EngineConfig(window_minutes=(1,), min_tracks=min_tracks))
    window = out.windows[0]
    assert window["insufficient_data"] is insufficient
    assert (window["net_score"] is None) is insufficient and (window["shares"] is None) is insufficient
    assert validate_event(window) == []


def test_rolling_windows_cover_the_last_l_minutes() -> None:
    # one new happy track each minute for 6 minutes
    events = [face(T0 + m * MINUTE_MS + 10, f"t{m}") for m in range(6)]
    _, out = run(events, EngineConfig(window_minutes=(1, 3, 5), min_tracks=1))
    ends = {(w["window_end_ms"], w["window_minutes"]): w["tracks"] for w in out.windows if w["camera_id"]}
    end6 = T0 + 6 * MINUTE_MS
    assert ends[(end6, 1)] == 1 and ends[(end6, 3)] == 3 and ends[(end6, 5)] == 5
    assert ends[(T0 + 2 * MINUTE_MS, 5)] == 2
    # after the data, windows shrink and stop once the longest window is empty
    assert ends[(end6 + 4 * MINUTE_MS, 5)] == 1
    assert (end6 + 5 * MINUTE_MS, 5) not in ends


def test_watermark_closes_windows_only_after_allowed_lateness() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(1,), allowed_lateness_ms=120_000, min_tracks=1))
    assert engine.process([face(T0 + 5_000)]).windows == []
    assert engine.process([face(T0 + MINUTE_MS + 119_000, "t2")]).windows == []
    assert engine.watermark_ms == T0 + MINUTE_MS - 1_000
    out = engine.process([face(T0 + MINUTE_MS + 120_000, "t3")])
    assert [w["window_end_ms"] for w in out.windows] == [T0 + MINUTE_MS] * 2


def test_late_events_go_to_the_late_output_and_never_change_a_window() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(1,), allowed_lateness_ms=60_000, min_tracks=1))
    engine.process([face(T0 + 1_000, "t1"), face(T0 + 10 * MINUTE_MS, "t2")])
    late_event = face(T0 + 2_000, "t9", top="angry")
    out = engine.process([late_event])
    assert out.late == [late_event]
    assert engine.stats.late == 1
    rest = engine.flush()
    assert all(w["shares"] is None or w["shares"]["angry"] == 0.0 for w in rest.windows)


def test_duplicates_are_dropped_while_open_and_within_the_horizon_after() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(1,), allowed_lateness_ms=60_000, min_tracks=1,
                                       dedup_horizon_ms=5 * MINUTE_MS))
    first = face(T0 + 1_000, "t1")
    engine.process([first, dict(first)])
    assert engine.stats.duplicates == 1
    engine.process([face(T0 + 3 * MINUTE_MS, "t2")])  # closes the first minute
    assert engine.process([dict(first)]).late == []  # remembered behind the watermark
    engine.process([face(T0 + 30 * MINUTE_MS, "t3")])  # far beyond the horizon
    assert engine.process([dict(first)]).late == [first]  # no longer known: late, not a window
    assert engine.stats.duplicates == 2 and engine.stats.late == 1


def test_heartbeats_are_reported_in_the_tick_of_their_minute() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(1,), allowed_lateness_ms=0))
    out = engine.process([beat(T0 + 1_000), beat(T0 + 7_000, "cam-b"), beat(T0 + 9_000),
                          beat(T0 + 2 * MINUTE_MS)])
    assert [(t.end_ms, t.heartbeats) for t in out.ticks] == [
        (T0 + MINUTE_MS, [("cafe-1", "cam-a", T0 + 9_000), ("cafe-1", "cam-b", T0 + 7_000)]),
        (T0 + 2 * MINUTE_MS, [])]
    assert out.windows == []  # heartbeats alone make no sentiment window


def test_each_tick_counts_the_customers_whose_visit_ended_in_its_minute() -> None:
    """A customer counts once, with the vote of its usable track_end (the edge's smoothed summary), in
    the minute it ended; updates, unusable ends and a retried copy count nothing."""
    engine = WindowEngine(EngineConfig(window_minutes=(1,), allowed_lateness_ms=0))
    ended = face(T0 + 2_000, "t1", kind="track_end", top="happy")
    out = engine.process([
        face(T0 + 1_000, "t1", top="sad"), ended, ended,
        face(T0 + 3_000, "t2", kind="track_end", top="angry"),
        face(T0 + 4_000, "t3", kind="track_end", top="neutral"),
        face(T0 + 5_000, "t4", kind="track_end", top="sad", usable=False),
        face(T0 + 6_000, "t5", camera="cam-b", kind="track_end", top="sad"),
        beat(T0 + MINUTE_MS + 1_000), face(T0 + 2 * MINUTE_MS, "t6")])
    assert [(t.end_ms, t.customers) for t in out.ticks] == [
        (T0 + MINUTE_MS, [("cafe-1", "cam-a", 1, 1, 3), ("cafe-1", "cam-b", 0, 1, 1)]),
        (T0 + 2 * MINUTE_MS, [])]


@SETTINGS
@given(event_streams())
def test_engine_windows_equal_the_brute_force_merge_of_panes(events: list[dict[str, Any]]) -> None:
    _, out = run(events)
    assert out.windows == reference_windows(events, CONFIG)
    assert all(validate_event(w) == [] for w in out.windows[:50])


@SETTINGS
@given(event_streams(), st.randoms(use_true_random=False), st.data())
def test_any_arrival_order_within_lateness_gives_the_sorted_windows(events, rng, data) -> None:
    lateness = CONFIG.allowed_lateness_ms
    # Each event is delayed by less than the allowed lateness: none can be behind the watermark.
    delays = [rng.randrange(lateness) for _ in events]
    arrival = [e for _, e in sorted(zip([e["event_time_ms"] + d for e, d in zip(events, delays, strict=True)],
                                        events, strict=True), key=lambda pair: pair[0])]
    cuts = data.draw(st.lists(st.integers(0, 10), max_size=5))
    engine, shuffled = run(arrival, batches=cuts)
    _, ordered = run(events)
    assert engine.stats.late == 0
    assert shuffled.windows == ordered.windows
    assert [t.heartbeats for t in shuffled.ticks] == [t.heartbeats for t in ordered.ticks]
    assert [t.customers for t in shuffled.ticks] == [t.customers for t in ordered.ticks]


@SETTINGS
@given(event_streams(), st.data())
def test_replaying_a_batch_changes_nothing(events, data) -> None:
    split = data.draw(st.integers(0, len(events)))
    replay_from = data.draw(st.integers(0, split))
    engine = WindowEngine(CONFIG)
    out = engine.process(events[:split])
    before = engine.stats.late + engine.stats.duplicates
    watermark = engine.watermark_ms or 0
    replay = engine.process(events[replay_from:split])  # the host retried a batch
    # within the dedup horizon a replay is recognised as such, beyond it it is late: never a window
    horizon_end = watermark - CONFIG.dedup_horizon_ms
    assert all((e["event_time_ms"] // MINUTE_MS + 1) * MINUTE_MS <= horizon_end for e in replay.late)
    out.extend(replay)
    out.extend(engine.process(events[split:]))
    out.extend(engine.flush())
    _, once = run(events)
    assert out.windows == once.windows
    assert engine.stats.late + engine.stats.duplicates - before == split - replay_from


@SETTINGS
@given(event_streams(), st.data())
def test_snapshot_and_restore_anywhere_changes_nothing(events, data) -> None:
    cut = data.draw(st.integers(0, len(events)))
    engine = WindowEngine(CONFIG)
    out = engine.process(events[:cut])
    state = json.loads(json.dumps(engine.snapshot()))
    restored = WindowEngine.restore(state)
    assert restored.snapshot() == engine.snapshot()
    out.extend(restored.process(events[cut:]))
    out.extend(restored.flush())
    _, once = run(events)
    assert out.windows == once.windows
    assert [t.customers for t in out.ticks] == [t.customers for t in once.ticks]


def test_state_stays_bounded_over_a_long_stream() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(5, 15), allowed_lateness_ms=60_000))
    sizes = []
    for hour in range(6):
        batch = [face(T0 + hour * 3_600_000 + s * 1_000, f"h{hour}-t{s // 120}", n=s) for s in range(3_600)]
        engine.process(batch)
        snapshot = engine.snapshot()
        sizes.append((len(snapshot["panes"]), sum(len(i) for _, i in snapshot["ids"] + snapshot["old_ids"]),
                      sum(len(c[2]) for c in snapshot["cameras"])))
    assert engine.stats.accepted == 6 * 3_600
    # open panes, remembered ids and live tracks do not grow with the number of events
    assert sizes[-1] == sizes[1]
    panes, ids, tracks = sizes[-1]
    # ids: one event a second, kept for the open minutes plus the 10-minute dedup horizon
    assert panes <= 3 and ids <= (10 + 1 + 3) * 60 and tracks <= 15 * 60 // 120 + 1


def test_idle_advance_closes_windows_and_flush_empties_the_engine() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(1, 5), min_tracks=1))
    engine.process([face(T0 + 1_000)])
    out = engine.advance_watermark(T0 + 2 * MINUTE_MS)
    assert [w["window_end_ms"] for w in out.windows if w["camera_id"]] == [T0 + MINUTE_MS] * 2 + \
        [T0 + 2 * MINUTE_MS] * 2
    engine.flush()
    state = engine.snapshot()
    assert state["panes"] == [] and state["cameras"] == []


def test_a_long_gap_emits_a_bounded_number_of_empty_ticks() -> None:
    engine = WindowEngine(EngineConfig(window_minutes=(1,), allowed_lateness_ms=0, max_idle_ticks=10))
    engine.process([face(T0)])
    out = engine.process([face(T0 + 30 * 24 * 3_600_000, "t2")])
    assert 10 <= len(out.ticks) <= 13


@pytest.mark.parametrize(("config", "named"), [
    ({"window_minutes": ()}, "window_minutes"), ({"window_minutes": (0, 5)}, "window_minutes"),
    ({"window_minutes": (2.5,)}, "window_minutes"), ({"window_minutes": (5, 2000)}, "window_minutes"),
    ({"allowed_lateness_ms": -1}, "allowed_lateness_ms"), ({"min_tracks": 0}, "min_tracks"),
    ({"max_idle_ticks": 0}, "max_idle_ticks"), ({"dedup_horizon_ms": 1.5}, "dedup_horizon_ms")])
def test_bad_configs_are_refused_naming_the_setting(config: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        EngineConfig(**config)


def test_a_copy_with_other_content_is_dropped_and_counted_apart_and_the_first_is_kept() -> None:
    first = face(T0 + 1_000, track="a", top="happy")
    retry = dict(first)
    conflict = {**first, "top_class": "sad", "valence": -0.8}  # same event_id, another verdict
    later = face(T0 + 200_000, track="b")  # closes the minute: the copies below come after it
    engine, out = run([first, retry, conflict, later, retry, conflict])
    assert (engine.stats.duplicates, engine.stats.conflicting_duplicates) == (2, 2)
    assert engine.stats.accepted == 2 and engine.stats.late == 0
    window = next(w for w in out.windows if w["window_end_ms"] == T0 + MINUTE_MS and w["window_minutes"] == 1
                  and w["camera_id"] is not None)
    assert window["tracks"] == 1 and window["net_score"] == 1.0  # the first copy's vote, happy


def test_fingerprints_survive_a_snapshot_and_a_version_1_snapshot_still_restores() -> None:
    first = face(T0 + 1_000)
    engine = WindowEngine(CONFIG)
    engine.process([first])
    state = json.loads(json.dumps(engine.snapshot()))
    restored = WindowEngine.restore(state)
    restored.process([{**first, "valence": -1.0}])
    assert restored.stats.conflicting_duplicates == 1
    old = {k: v for k, v in state.items() if k not in ("id_fingerprints", "old_id_fingerprints")}
    old["version"] = 1
    older = WindowEngine.restore(old)
    older.process([{**first, "valence": -1.0}])  # unknown first content: a plain duplicate
    assert (older.stats.duplicates, older.stats.conflicting_duplicates) == (1, 0)


@SETTINGS
@given(event_streams(), st.data())
def test_fast_path_structs_give_the_same_windows_fingerprints_and_late_events_as_dicts(events, data) -> None:
    """The engine reads the fast path's structs (`schemas.struct_mapping`) as it reads the
    reference's dicts; the fingerprints it inlines on its hot path are `_fingerprint`'s."""
    structs: list[Any] = [DECODER.fast(json.dumps(e).encode()) for e in events]
    assert all(s is not None for s in structs)
    # copies and out-of-order events, some late, so duplicates, conflicts and the late path all run
    extra = data.draw(st.lists(st.sampled_from(range(len(events))), max_size=10))
    order = list(range(len(events))) + extra
    from_dicts, from_structs = run([events[i] for i in order]), run([structs[i] for i in order])
    assert from_dicts[1].windows == from_structs[1].windows
    assert from_dicts[1].late == from_structs[1].late  # the structs equal the dicts
    assert [dumps(e) for e in from_dicts[1].late] == [dumps(e) for e in from_structs[1].late]
    assert from_dicts[0].stats == from_structs[0].stats
    assert from_dicts[0].snapshot() == from_structs[0].snapshot()
    engine, checked = WindowEngine(CONFIG), 0
    for event, struct in zip(events, structs, strict=True):
        engine.process([struct])
        minute = event["event_time_ms"] // MINUTE_MS
        ids = {**engine._old_ids.get(minute, {}), **engine._ids.get(minute, {})}
        if event["event_id"] in ids:  # an on-time event always is; a late one within the dedup horizon
            assert ids[event["event_id"]] == _fingerprint(event)
            checked += 1
    assert checked >= len(events) - engine.stats.late
