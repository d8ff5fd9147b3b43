"""The per-tick checks (quiet resolves, silent cameras) skip the ticks where no key can change: the
alarms are those of an engine that checks every key at every tick, over random histories of camera
silences, quiet gaps, jumps in event time, flush ticks and restarts from a snapshot."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.types import SentimentAlarm
from stream.aggregate import CLASS_INDEX, WindowAggregate
from stream.alarms import AlarmConfig, AlarmEngine
from stream.engine import MINUTE_MS, Tick
from stream.measures import window_event
from tests.stream.helpers import T0

CAMERAS = ("cam-a", "cam-b")
WINDOW = 15


class EveryKey(AlarmEngine):
    """The rules with every key checked at every tick: no check is ever skipped."""

    def _check_quiet(self, now: int, alarms: list[SentimentAlarm]) -> None:
        self._quiet_due = -math.inf
        super()._check_quiet(now, alarms)

    def _check_silence(self, now: int, alarms: list[SentimentAlarm]) -> None:
        self._silence_due = -math.inf
        super()._check_silence(now, alarms)


# one camera's minute: heartbeat sent, (happy, sad, neutral) customers in its window, customers who left
votes = st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 4))
camera_minute = st.tuples(st.booleans(), st.one_of(st.just((0, 0, 0)), votes), st.integers(0, 6))
minute = st.tuples(st.integers(1, 40),  # minutes since the previous tick (a jump: an idle advance)
                   st.lists(camera_minute, min_size=len(CAMERAS), max_size=len(CAMERAS)),
                   st.sampled_from([False] * 5 + [True]),  # a flush tick (judged by no rule)
                   st.sampled_from([False] * 5 + [True]))  # a restart from a snapshot after this tick

configs = st.builds(
    AlarmConfig, min_tracks=st.just(3), low_raise=st.just(-0.2), low_clear=st.just(0.0),
    raise_m=st.just(1), raise_n=st.integers(1, 2), clear_m=st.just(1), disjoint_windows=st.booleans(),
    z_raise=st.sampled_from([0.0, 1.0]), hold_minutes=st.integers(0, 3), quiet_minutes=st.integers(0, 45),
    silent_minutes=st.integers(1, 10), low_against_usual=st.booleans(), baseline_min_days=st.just(0),
    drop_detection=st.sampled_from(["sequential", "windows"]))


def _window(camera: str | None, end: int, votes: tuple[int, int, int], min_tracks: int) -> object:
    counts = [0] * 7
    counts[CLASS_INDEX["happy"]], counts[CLASS_INDEX["sad"]], counts[CLASS_INDEX["neutral"]] = votes
    tracks = sum(votes)
    return window_event("cafe", camera, end, WINDOW, WindowAggregate(tracks, tracks, 0, tuple(counts)), min_tracks)


def _ticks(history: list[tuple[int, list[tuple[bool, tuple[int, int, int], int]], bool, bool]],
           min_tracks: int) -> list[tuple[Tick, bool]]:
    ticks, end = [], T0
    for gap, cams, flush, restart in history:
        end += gap * MINUTE_MS
        windows, beats, customers = [], [], []
        site_votes = [0, 0, 0]
        for camera, (beat, votes, left) in zip(CAMERAS, cams, strict=True):
            if sum(votes):
                windows.append(_window(camera, end, votes, min_tracks))
                site_votes = [a + b for a, b in zip(site_votes, votes, strict=True)]
            if beat:
                beats.append(("cafe", camera, end - 20_000))
            if left:
                sour = min(left, votes[1])
                customers.append(("cafe", camera, left - sour, sour, left))
        if sum(site_votes):
            windows.insert(0, _window(None, end, (site_votes[0], site_votes[1], site_votes[2]), min_tracks))
        ticks.append((Tick(end, windows, beats, flush, customers), restart))  # type: ignore[arg-type]
    return ticks


def _run(cls: type[AlarmEngine], config: AlarmConfig, ticks: list[tuple[Tick, bool]]) -> tuple[list[object], object]:
    engine = cls(config)
    alarms: list[object] = []
    for tick, restart in ticks:
        alarms += engine.process([tick])
        if restart:
            engine = cls.restore(json.loads(json.dumps(engine.snapshot())), config)
    return alarms, engine.snapshot()


@settings(max_examples=150, deadline=None)
@given(configs, st.lists(minute, min_size=1, max_size=80))
def test_skipped_checks_change_no_alarm(config: AlarmConfig, history: list) -> None:
    ticks = _ticks(history, config.min_tracks)
    fast, plain = _run(AlarmEngine, config, ticks), _run(EveryKey, config, ticks)
    assert fast == plain


def test_the_histories_raise_and_clear_every_checked_rule() -> None:
    """The property above is about something: such a history raises and resolves a silent camera and a
    quiet alarm (raised after a tick that found nothing raised), before and after a restart."""
    config = AlarmConfig(min_tracks=3, raise_m=1, raise_n=1, clear_m=1, z_raise=0.0, hold_minutes=0, quiet_minutes=10,
                         silent_minutes=3, low_against_usual=False)
    sour = (True, (0, 6, 0), 0)
    idle = (False, (0, 0, 0), 0)
    history = [(1, [idle, idle], False, False), (1, [sour, sour], False, False),
               *[(1, [idle, idle], False, False)] * 12, (1, [sour, idle], False, False),
               *[(2, [idle, idle], False, False)] * 8, (1, [sour, idle], False, True),
               *[(4, [idle, idle], False, False)] * 4]
    alarms, _ = _run(AlarmEngine, config, _ticks(history, config.min_tracks))
    seen = {(a["rule"], a["state"], a["reason"].startswith("no customers")) for a in alarms}  # type: ignore[index]
    assert ("camera_silent", "ALARM", False) in seen and ("camera_silent", "OK", False) in seen
    assert ("low_sentiment", "ALARM", False) in seen and ("low_sentiment", "OK", True) in seen
    assert alarms == _run(EveryKey, config, _ticks(history, config.min_tracks))[0]
