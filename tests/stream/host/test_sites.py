"""Event time per site: a site's answers do not depend on other sites in the same input, and the
merged output depends only on the input sequence, not on how it is cut into batches."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.alarms import AlarmConfig
from stream.engine import MINUTE_MS, EngineConfig
from stream.host.sites import SITE_STATE_VERSION, Applied, Emitted, Sites, SiteState, StateError
from tests.stream.helpers import T0, event_streams, face

ENGINE = EngineConfig(window_minutes=(1, 5), allowed_lateness_ms=60_000, min_tracks=2)
ALARMS = AlarmConfig(window_minutes=5, min_tracks=2, raise_m=2, raise_n=3, clear_m=2, baseline_min_days=1)


def run(events: list[dict[str, Any]], cuts: list[int] | None = None) -> Emitted:
    sites = Sites(ENGINE, ALARMS)
    out = Emitted()
    bounds = [0, *sorted(cuts or []), len(events)]
    for start, end in itertools.pairwise(bounds):
        out.extend(sites.apply([Applied(e, "p", i) for i, e in enumerate(events[start:end], start)]))
    out.extend(sites.flush())
    return out


def quiet_site() -> list[dict[str, Any]]:
    """Site "quiet": a few faces a minute, one camera whose events arrive 90 s late now and then."""
    rng = random.Random(5)
    out = []
    for i in range(120):
        t = T0 + i * 20_000
        out.append(face(t, track=f"q{i // 4}", site="quiet", top=rng.choice(["happy", "sad"]), n=i))
        if i % 10 == 5:
            out.append(face(t - 90_000, track=f"q-late{i}", site="quiet", n=10_000 + i))
    return out


def busy_site(ahead_ms: int) -> list[dict[str, Any]]:
    """Site "busy": many faces, its clock (event time) ``ahead_ms`` ahead of the quiet site."""
    return [face(T0 + ahead_ms + i * 2_000, track=f"b{i // 10}", site="busy", camera="cam-b", n=i)
            for i in range(1_200)]


def interleave(a: list[dict[str, Any]], b: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    a, b, out = list(a), list(b), []
    while a or b:
        source = a if (a and (not b or rng.random() < len(a) / (len(a) + len(b)))) else b
        out.append(source.pop(0))
    return out


def of_site(documents: list[Any], site: str) -> list[Any]:
    return [d for d in documents if d["site_id"] == site]


def test_a_sites_late_events_windows_and_alarms_do_not_depend_on_a_busy_neighbour() -> None:
    alone = run(quiet_site())
    assert alone.late and alone.windows  # the scenario has late events and windows of its own
    for seed, ahead in ((1, 0), (2, 10 * MINUTE_MS), (3, 30 * MINUTE_MS)):
        mixed = run(interleave(quiet_site(), busy_site(ahead), seed))
        assert of_site(mixed.windows, "busy")
        assert of_site(mixed.windows, "quiet") == alone.windows
        assert of_site(mixed.late, "quiet") == alone.late
        assert of_site(mixed.alarms, "quiet") == alone.alarms


def test_with_one_global_watermark_the_neighbour_would_have_changed_the_answer() -> None:
    """The same input through one engine shows what per-site event time prevents."""
    from stream.engine import WindowEngine

    mixed = interleave(quiet_site(), busy_site(30 * MINUTE_MS), 3)
    engine = WindowEngine(ENGINE)
    out = engine.process(mixed)
    quiet_late = [e for e in out.late if e["site_id"] == "quiet"]
    assert len(quiet_late) > len(run(quiet_site()).late)


@settings(max_examples=40, deadline=None)
@given(events=event_streams(max_minutes=15, max_events=80), data=st.data())
def test_output_is_the_same_however_the_input_is_cut_into_batches(events: list[dict[str, Any]],
                                                                   data: st.DataObject) -> None:
    shuffled = list(events)
    random.Random(data.draw(st.integers(0, 99))).shuffle(shuffled)  # out of order across sites and time
    cuts = data.draw(st.lists(st.integers(0, len(shuffled)), max_size=6))
    whole, cut = run(shuffled), run(shuffled, cuts)
    assert json.dumps(cut.windows) == json.dumps(whole.windows)
    assert json.dumps(cut.alarms) == json.dumps(whole.alarms)
    assert cut.late == whole.late


def test_a_re_delivered_record_is_skipped_by_a_site_that_applied_it() -> None:
    events = quiet_site()[:40]
    sites = Sites(ENGINE, ALARMS)
    first = sites.apply([Applied(e, "shard-1", i) for i, e in enumerate(events)])
    again = sites.apply([Applied(e, "shard-1", i) for i, e in enumerate(events)])
    assert again.skipped == len(events) and not again.windows and not again.dirty
    other_partition = sites.apply([Applied(events[0], "shard-2", 0)])
    assert other_partition.skipped == 0  # positions are per partition
    assert first.dirty == {"quiet"}


def test_a_corrupt_or_other_version_site_state_is_refused_with_its_name() -> None:
    sites = Sites(ENGINE, ALARMS)
    sites.apply([Applied(quiet_site()[0], "p", 0)])
    good = sites.snapshot()["quiet"]
    without_counters = {key: value for key, value in good.items() if key != "counters"}
    for bad, why in (({**good, "version": 0}, "version 0"), ({**good, "engine": {"version": 1}}, "KeyError"),
                     ({"version": SITE_STATE_VERSION}, "KeyError"),
                     ({**without_counters, "version": 1}, "another version of moodlens"),
                     (without_counters, "KeyError: 'counters'"),
                     ({**good, "counters": {"windows": 3}}, "expected events, windows, alarms, late")):
        try:
            SiteState.restore(bad, "s3://b/sites/quiet.json")
        except StateError as error:
            assert "s3://b/sites/quiet.json" in str(error) and why in str(error)
        else:
            raise AssertionError("accepted a bad state")


def test_a_host_restarted_with_other_alarm_settings_applies_them_to_the_sites_it_knew() -> None:
    """Operations tune the alarms (`--hold-minutes`, a site-file key) and restart: the stored state keeps
    its alarm machines, but the host's settings judge from now on, not the ones saved with the state."""
    sites = Sites(ENGINE, ALARMS)
    sites.apply([Applied(e, "p", i) for i, e in enumerate(quiet_site())])
    snapshot = json.loads(json.dumps(sites.snapshot()))
    tuned = AlarmConfig(**{**vars(ALARMS), "hold_minutes": 60, "z_raise": 3.0})
    restarted = Sites.restore(ENGINE, tuned, snapshot, lambda name: name)
    assert restarted.states["quiet"].alarms.config == tuned
    assert restarted.snapshot()["quiet"]["alarms"]["machines"] == snapshot["quiet"]["alarms"]["machines"]
    assert SiteState.restore(snapshot["quiet"], "quiet").alarms.config == ALARMS  # alone: the stored settings


def restarted_midway(events: list[dict[str, Any]], before: EngineConfig, after: EngineConfig,
                     cut: int) -> tuple[Emitted, Sites]:
    """The first `cut` events under `before`; state saved as JSON; the rest on a host run with `after`."""
    first = Sites(before, ALARMS)
    first.apply([Applied(e, "p", i) for i, e in enumerate(events[:cut])])
    snapshot = json.loads(json.dumps(first.snapshot()))
    host = Sites.restore(after, ALARMS, snapshot, lambda name: name)
    out = host.apply([Applied(e, "p", i) for i, e in enumerate(events[cut:], cut)])
    out.extend(host.flush())
    return out, host


def windows_from(emitted: Emitted, end_ms: int) -> list[Any]:
    return [w for w in emitted.windows if w["window_end_ms"] > end_ms]


def test_a_host_restarted_with_another_min_tracks_suppresses_by_the_new_one(caplog) -> None:
    """Raising `--min-tracks` (privacy) and restarting must not leave the sites already known on the old
    threshold: from the restart on, the windows are those of a host that always ran the new one."""
    events = quiet_site()
    stricter = EngineConfig(**{**vars(ENGINE), "min_tracks": 4})
    cut = len(events) // 2
    out, host = restarted_midway(events, ENGINE, stricter, cut)
    assert host.states["quiet"].engine.config == stricter
    always = run_with(events, stricter)
    restart_ms = max(e["event_time_ms"] for e in events[:cut])
    assert windows_from(out, restart_ms) == windows_from(always, restart_ms)
    assert windows_from(out, restart_ms) != windows_from(run(events), restart_ms)  # the threshold mattered
    assert "min_tracks 2 -> 4" in caplog.text


def test_shorter_window_lengths_after_a_restart_are_exact_and_longer_ones_are_said_to_fill(caplog) -> None:
    events = quiet_site()
    cut = len(events) // 2
    restart_ms = max(e["event_time_ms"] for e in events[:cut])
    shorter = EngineConfig(**{**vars(ENGINE), "window_minutes": (1, 3)})
    out, _ = restarted_midway(events, ENGINE, shorter, cut)
    assert windows_from(out, restart_ms) == windows_from(run_with(events, shorter), restart_ms)
    assert "window_minutes [1, 5] -> [1, 3]" in caplog.text and "until they fill" not in caplog.text
    caplog.clear()
    longer = EngineConfig(**{**vars(ENGINE), "window_minutes": (1, 5, 30)})
    out, _ = restarted_midway(events, ENGINE, longer, cut)
    assert {w["window_minutes"] for w in windows_from(out, restart_ms)} == {1, 5, 30}
    assert "windows longer than 5 minutes lack the minutes before the restart until they fill" in caplog.text


def test_a_restart_with_the_same_settings_says_nothing(caplog) -> None:
    events = quiet_site()
    restarted_midway(events, ENGINE, ENGINE, len(events) // 2)
    assert "window settings changed" not in caplog.text


def run_with(events: list[dict[str, Any]], engine: EngineConfig) -> Emitted:
    sites = Sites(engine, ALARMS)
    out = sites.apply([Applied(e, "p", i) for i, e in enumerate(events)])
    out.extend(sites.flush())
    return out


def test_a_quiet_site_closes_its_windows_on_the_wall_clock_while_a_neighbour_stays_busy() -> None:
    now = [T0 / 1000 + 30]
    sites = Sites(ENGINE, ALARMS, clock=lambda: now[0])
    quiet = [face(T0 + i * 1_000, track=f"q{i}", site="quiet", n=i) for i in range(5)]
    sites.apply([Applied(e, "p", i) for i, e in enumerate(quiet)])
    closed_at: dict[int, list[int]] = {}
    for minute in range(1, 6):  # the busy site keeps sending, with its own (current) event time
        now[0] += 60
        busy = [face(int(now[0] * 1000) + i, track=f"b{i}", site="busy", n=minute * 100 + i) for i in range(5)]
        out = sites.apply([Applied(e, "p", 1_000 + minute * 100 + i) for i, e in enumerate(busy)])
        assert not of_site(out.windows, "quiet")  # a neighbour's events never move the quiet site on
        idle = sites.advance_idle(150_000)
        assert not of_site(idle.windows, "busy")  # the busy site is not idle
        closed_at[minute] = [w["window_end_ms"] for w in of_site(idle.windows, "quiet")]
    # 150 s of wall clock without input from "quiet" (from minute 3 on): its event time follows the clock
    assert closed_at[1] == closed_at[2] == []
    assert T0 + MINUTE_MS in closed_at[3]
    assert T0 + MINUTE_MS not in [w["window_end_ms"] for w in of_site(sites.flush().windows, "quiet")]


def test_each_sites_counters_travel_with_its_state_and_sum_to_what_it_emitted() -> None:
    """The counters are part of a site's state: a site restored from its snapshot counts on from
    there, and the sites' sums equal what the sites emitted, whichever way the input was cut."""
    events = quiet_site()
    whole = Sites(ENGINE, ALARMS)
    emitted = whole.apply([Applied(e, "p", i) for i, e in enumerate(events)])
    emitted.extend(whole.flush())
    cut = Sites(ENGINE, ALARMS)
    half = len(events) // 2
    first = cut.apply([Applied(e, "p", i) for i, e in enumerate(events[:half])])
    resumed = Sites.restore(ENGINE, ALARMS, json.loads(json.dumps(cut.snapshot())), lambda name: name)
    second = resumed.apply([Applied(e, "p", i) for i, e in enumerate(events) if i >= half - 3])  # 3 replayed
    second.extend(resumed.flush())
    assert second.skipped == 3
    assert whole.counters() == resumed.counters() == {
        "events": len(events), "windows": len(emitted.windows), "alarms": len(emitted.alarms),
        "late": len(emitted.late)}
    assert len(first.windows) + len(second.windows) == len(emitted.windows)


@settings(max_examples=30, deadline=None)
@given(events=event_streams(max_minutes=15, max_events=80), data=st.data())
def test_records_re_delivered_in_part_from_one_or_two_partitions_count_once(events: list[dict[str, Any]],
                                                                      data: st.DataObject) -> None:
    """One or two partitions (shards), read in batches that overlap what was applied before (a host
    replaying from an older checkpoint), as plain (event, partition, position) tuples: what is emitted
    equals one delivery of each record."""
    parts = data.draw(st.sampled_from([1, 2]), label="partitions")
    records = [(e, f"shard-{i % parts}", i // parts) for i, e in enumerate(events)]
    once = Sites(ENGINE, ALARMS)
    expected = once.apply([Applied(*r) for r in records])
    sites = Sites(ENGINE, ALARMS)
    got = Emitted()
    start = resent = 0
    while start < len(records):
        end = data.draw(st.integers(start + 1, len(records)), label="end")
        back = data.draw(st.integers(0, start), label="replayed from")  # records back..start are sent again
        if data.draw(st.booleans(), label="as columns"):  # as a host hands them: no tuple a record
            batch = records[back:end]
            got.extend(sites.apply_columns([r[0] for r in batch], [r[1] for r in batch], [r[2] for r in batch]))
        else:
            got.extend(sites.apply(records[back:end]))
        resent += start - back
        start = end
    assert got.skipped == resent
    assert json.dumps(got.windows) == json.dumps(expected.windows)
    assert json.dumps(got.alarms) == json.dumps(expected.alarms)
    assert got.late == expected.late
    assert sites.counters() == once.counters()


def test_columns_of_different_lengths_are_refused_before_any_site_changes() -> None:
    sites = Sites(ENGINE, ALARMS)
    events = quiet_site()[:3]
    with pytest.raises(ValueError, match="3 events, 3 partitions and 2 positions"):
        sites.apply_columns(events, ["p"] * 3, [0, 1])
    assert sites.states == {} and sites.apply_columns([], [], []).windows == []
