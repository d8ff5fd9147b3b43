"""An alarm judged on a window readers get hidden carries none of that window's numbers: its reason says why
the window is not shown, its value is null. Read back from what the real embedded runner writes (windows.jsonl
and alarms.jsonl together give no camera with too few customers back), while the alarm rules keep judging
the windows whole and keep the same state."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from locallog import LocalLog
from schemas.validation import validate_event
from stream import alarm_words
from stream.alarm_machine import alarm_event
from stream.embedded import ALARMS as ALARMS_FILE
from stream.embedded import WINDOWS, EmbeddedRunner, RunnerConfig
from stream.host import sites as sites_module
from stream.host.sites import Applied, Emitted, Sites
from stream.jsonl import dumps, iter_jsonl
from stream.published import published, published_alarms
from tests.stream.host.test_sites import ALARMS, ENGINE
from tests.stream.test_embedded import CrashAt, killed_and_restarted
from tests.stream.test_published import (
    CONFIG,
    MIN_TRACKS,
    _sour_site_with_a_lone_customer,
    crowds,
    engine_windows,
    recovered,
)

RUNNER = RunnerConfig(engine=ENGINE, alarms=ALARMS, check_time=False)
UNCHANGED = ("schema", "schema_version", "event_id", "site_id", "event_time_ms", "camera_id", "rule", "state",
             "threshold")


def told(alarm: Mapping[str, Any], minutes: int) -> float | None:
    """The score an alarm tells of the window it was judged on: its reason's latest window, or its value
    (a window rule's value is that window's net score: `stream.alarms`)."""
    latest = alarm_words.latest_score(alarm["reason"], minutes)
    if latest is not None:
        return latest[0]
    return alarm["value"] if alarm["rule"] == "low_sentiment" else None


def with_alarm_scores(windows: Iterable[Mapping[str, Any]], alarms: Iterable[Mapping[str, Any]],
                      minutes: int) -> list[dict[str, Any]]:
    """The windows, each hidden one whose score an alarm tells filled in with it: what a reader of both has."""
    scores = {(a["site_id"], a["camera_id"], a["event_time_ms"]): score for a in alarms
              if (score := told(a, minutes)) is not None}
    out = [dict(w) for w in windows]
    for w in out:
        key = (w["site_id"], w["camera_id"], w["window_end_ms"])
        if w["net_score"] is None and w["window_minutes"] == minutes and key in scores:
            w["net_score"], w["insufficient_data"] = scores[key], False
    return out


def runner_output(folder: Path, events: list[dict[str, Any]], batch_size: int = 5_000) -> tuple[list[dict[str, Any]],
                                                                                                 list[dict[str, Any]]]:
    """(windows.jsonl, alarms.jsonl) as the real embedded runner writes them for the events."""
    LocalLog(folder / "log").append([dumps(e) for e in events])
    runner = EmbeddedRunner(LocalLog(folder / "log"), folder / "stream",
                            RunnerConfig(engine=RUNNER.engine, alarms=RUNNER.alarms, check_time=False,
                                         batch_size=batch_size))
    runner.drain(flush=True)
    runner.close()
    return list(iter_jsonl(folder / "stream" / WINDOWS)), list(iter_jsonl(folder / "stream" / ALARMS_FILE))


def not_published(alarms: list[Any], windows: list[Any], window_minutes: int, min_tracks: int) -> list[Any]:
    return list(alarms)


def test_the_runner_s_windows_and_alarms_together_give_back_no_camera_with_too_few(tmp_path: Path) -> None:
    """cam-a turns sour and its alarm fires on a window hidden beside cam-b's lone customer: the alarm as it
    was told cam-a's score, and with the site's window that gave cam-b's back. Now it says why that
    window is not shown, its value is null, and it is the same alarm otherwise."""
    events = _sour_site_with_a_lone_customer()
    minutes = ALARMS.window_minutes
    with mock.patch.object(sites_module, "published_alarms", not_published):
        windows_before, alarms_before = runner_output(tmp_path / "before", events)
    assert recovered(windows_before, ENGINE.min_tracks) == []
    assert recovered(with_alarm_scores(windows_before, alarms_before, minutes), ENGINE.min_tracks), \
        "the attack through the alarm is real"

    windows, alarms = runner_output(tmp_path / "after", events)
    assert windows == windows_before and len(alarms) == len(alarms_before)
    assert recovered(with_alarm_scores(windows, alarms, minutes), ENGINE.min_tracks) == []
    hidden = {(w["camera_id"], w["window_end_ms"]): w for w in windows
              if w["insufficient_data"] and w["window_minutes"] == minutes}
    changed = [(a, was) for a, was in zip(alarms, alarms_before, strict=True) if a != was]
    assert changed
    for alarm, was in changed:
        window = hidden[(alarm["camera_id"], alarm["event_time_ms"])]
        assert window["tracks"] >= ENGINE.min_tracks  # a complement, not a window with too few
        assert validate_event(alarm) == [] and alarm["value"] is None and was["value"] is not None
        assert {k: alarm[k] for k in UNCHANGED} == {k: was[k] for k in UNCHANGED}
        assert alarm_words.latest_score(alarm["reason"], minutes) is None
        assert alarm_words.latest_score(was["reason"], minutes) == (round(was["value"], 2), window["tracks"])
        assert f"the last {minutes} minutes: score not shown ({window['tracks']} customers)" in alarm["reason"]
        head = was["reason"].rpartition(f"; the last {minutes} minutes: ")[0]
        assert alarm["reason"].startswith(head + ";")  # what happened, where and since when: as it was
    for alarm, was in zip(alarms, alarms_before, strict=True):
        if (alarm["camera_id"], alarm["event_time_ms"]) not in hidden:
            assert alarm == was


def test_the_alarms_do_not_depend_on_how_the_log_is_cut(tmp_path: Path) -> None:
    events = _sour_site_with_a_lone_customer()
    whole = runner_output(tmp_path / "whole", events)
    assert any(a["value"] is None and a["rule"] == "low_sentiment" for a in whole[1])
    assert runner_output(tmp_path / "cut", events, batch_size=7) == whole


def _sites_run(events: list[dict[str, Any]]) -> tuple[Emitted, Sites]:
    sites = Sites(ENGINE, ALARMS, clock=lambda: 0.0)  # the wall clock of its last input is saved too
    out = sites.apply([Applied(e, "p", i) for i, e in enumerate(events)])
    out.extend(sites.flush())
    return out, sites


def test_the_alarm_rules_keep_the_same_state_as_when_the_alarms_told_every_score() -> None:
    events = _sour_site_with_a_lone_customer()
    out, sites = _sites_run(events)
    with mock.patch.object(sites_module, "published_alarms", not_published):
        whole, sites_whole = _sites_run(events)
    assert sites.snapshot() == sites_whole.snapshot()
    def judged(alarms: list[Any]) -> list[dict[str, Any]]:
        return [{k: a[k] for k in UNCHANGED} for a in alarms]
    assert judged(out.alarms) == judged(whole.alarms)
    assert out.alarms != whole.alarms


def _window_alarm(window: Mapping[str, Any], minutes: int) -> Any:
    """The low_sentiment raise the rules make on ``window`` (its score, customers and end)."""
    net = window["net_score"]
    reason = alarm_words.low_raised(alarm_words.place(window["site_id"], window["camera_id"]), "14:00 UTC", 30, net,
                                    window["tracks"], minutes, -0.2)
    return alarm_event("low_sentiment", window["site_id"], window["camera_id"], "ALARM", window["window_end_ms"], net,
                       -0.2, reason)


@settings(max_examples=60, deadline=None)
@given(crowds(), st.sampled_from(CONFIG.engine.window_minutes))
def test_no_window_and_alarm_published_together_give_a_hidden_camera_back(events: list[dict[str, Any]],
                                                                           minutes: int) -> None:
    """Every window the engine could judge has an alarm telling its score: published, no alarm tells the
    score of a window readers get hidden, and an alarm on a shown window is left as it was."""
    raw: Any = engine_windows(events, CONFIG.engine)
    alarms = [_window_alarm(w, minutes) for w in raw if w["net_score"] is not None and w["window_minutes"] == minutes]
    windows = published(raw, MIN_TRACKS)
    out: list[Any] = published_alarms(alarms, windows, minutes, MIN_TRACKS)
    assert recovered(with_alarm_scores(windows, out, minutes), MIN_TRACKS) == []
    shown = {(w["camera_id"], w["window_end_ms"]) for w in windows
             if not w["insufficient_data"] and w["window_minutes"] == minutes}
    for alarm, was in zip(out, alarms, strict=True):
        if (alarm["camera_id"], alarm["event_time_ms"]) in shown:
            assert alarm == was
        else:
            assert alarm["value"] is None and alarm_words.latest_score(alarm["reason"], minutes) is None
            assert {k: alarm[k] for k in UNCHANGED} == {k: was[k] for k in UNCHANGED}
            assert validate_event(alarm) == []


def test_an_alarm_on_a_window_with_too_few_customers_says_so_and_other_alarms_pass_as_they_are() -> None:
    """A window the engine itself suppressed (3 customers, min_tracks 5) and the alarms that tell no latest
    window (a quiet resolve, a sequential drop) at the same end."""
    window: Any = {"site_id": "cafe", "camera_id": "till", "window_end_ms": 1_790_000_000_000, "window_minutes": 15,
              "tracks": 3, "insufficient_data": True, "net_score": None}
    raised = _window_alarm({**window, "net_score": -0.5}, 15)
    quiet: Any = {**raised, "event_id": raised["event_id"].replace("0", "2"), "value": None,
             "reason": alarm_words.quiet_resolved(alarm_words.place("cafe", "till"), 30, "14:00 UTC")}
    drop: Any = {**raised, "event_id": raised["event_id"].replace("0", "1"), "rule": "sentiment_drop", "value": -0.3,
            "reason": alarm_words.drop_raised(alarm_words.place("cafe", "till"), "13:00 UTC", 60, 40, 20, 4, -0.4,
                                              0.2, 0.4)}
    out = published_alarms([raised, quiet, drop], [window], 15, 5)
    assert out[1:] == [quiet, drop]
    assert out[0]["value"] is None
    assert out[0]["reason"].endswith("; the last 15 minutes: too few customers to show a score (3 customers)")
    nobody: Any = {**window, "tracks": 0}
    empty = published_alarms([raised], [nobody], 15, 5)
    assert empty[0]["reason"].endswith("; the last 15 minutes: no customers")
    shorter: Any = {**window, "window_minutes": 5}
    assert published_alarms([raised], [shorter], 15, 5) == [raised]


def test_a_runner_killed_anywhere_and_restarted_writes_the_same_alarms(tmp_path: Path) -> None:
    """Killed at fault points throughout (torn writes, before and after the checkpoint) and restarted on the same
    folder: alarms.jsonl ends up byte for byte as an uninterrupted run's, the alarm on a hidden window told once,
    without its score."""
    LocalLog(tmp_path / "log").append([dumps(e) for e in _sour_site_with_a_lone_customer()])
    config = RunnerConfig(engine=ENGINE, alarms=ALARMS, check_time=False, batch_size=20)

    def run(folder: Path, fault: Callable[[str], None]) -> bytes:
        return killed_and_restarted(tmp_path / "log", folder, config, fault, ALARMS_FILE)

    whole = run(tmp_path / "whole", lambda point: None)
    alarms = [json.loads(line) for line in whole.splitlines()]
    assert [a["value"] for a in alarms if a["rule"] == "low_sentiment"] == [None]
    calls = CrashAt(())
    run(tmp_path / "count", calls)
    assert calls.calls > 20  # fault points passed in an uninterrupted run: each batch's writes and commit
    for at in range(1, calls.calls + 1, max(1, calls.calls // 8)):
        assert run(tmp_path / f"crash-{at}", CrashAt({at})) == whole, at
