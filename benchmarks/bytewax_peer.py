"""The engine's windows computed by bytewax 0.21 (the peer in ``stream_engine.py peer``).

The same windows as `stream.engine.WindowEngine`: per site and per site+camera, every length in
``window_minutes`` ending at each minute boundary, event time with the same allowed lateness (an
event behind max event time − lateness is late and dropped), duplicates (same ``event_id``) dropped,
each track counted once per window with its latest usable vote (by event time, then id), faces and
low-quality faces counted. Written the way a bytewax user would, with bytewax's own windowing:

1. key by site; ``EventClock`` (watermark: max event time − lateness; a fixed ``now_getter`` so only
   events move it, as in the engine) + ``TumblingWindower(1 minute)``: a pane per site and minute
   (``fold_window``: per camera faces, low quality, each track's latest vote; the ids seen).
2. per window length, ``SlidingWindower(length, offset 1 minute)`` over the panes
   (``fold_window``, the panes' minutes as event time): each window merges its panes.
3. each closed window becomes the engine's ``sentiment_window`` events (`stream.measures.window_event`)
   for the site and each of its cameras, so the outputs can be compared event for event.

Unordered folds (``ordered=False``): the folds are order-free (counts, a max), as the engine's are.
Windows are emitted only for keys with data in them; the engine also emits empty windows for a
camera with data elsewhere in the longest window, so the comparison is over non-empty windows.
Runs in-process (``bytewax.testing.run_main``, one worker).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from schemas.types import SentimentWindow
from stream.aggregate import WindowAggregate
from stream.engine import EngineConfig
from stream.measures import window_event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
# camera -> [faces, low quality, {track: (event_time_ms, event_id, top_class, valence)}]
Cameras = dict[str, list[Any]]


def _event_time(event: Mapping[str, Any]) -> datetime:
    return EPOCH + timedelta(0, 0, 0, event["event_time_ms"])  # positional: a third of the keyword call


def _new_pane() -> tuple[set[str], Cameras]:
    return set(), {}


def _add_event(pane: tuple[set[str], Cameras], event: Mapping[str, Any]) -> tuple[set[str], Cameras]:
    ids, cameras = pane
    eid = event["event_id"]
    if eid in ids:  # a retry within its minute (a later one is late: dropped, like the engine's)
        return pane
    ids.add(eid)
    camera = cameras.get(event["camera_id"])
    if camera is None:
        camera = cameras[event["camera_id"]] = [0, 0, {}]
    if not event["quality"].get("usable", True):
        camera[1] += 1
        return pane
    if event["kind"] == "track_update":
        camera[0] += 1
    votes, track = camera[2], event["track_id"]
    t = event["event_time_ms"]
    old = votes.get(track)
    if old is None or t > old[0] or (t == old[0] and eid > old[1]):
        votes[track] = (t, eid, event["top_class"], event["valence"])
    return pane


def _merge_pane(window: Cameras, pane: tuple[int, Cameras]) -> Cameras:
    for name, (faces, low, votes) in pane[1].items():
        camera = window.get(name)
        if camera is None:
            window[name] = [faces, low, dict(votes)]
            continue
        camera[0] += faces
        camera[1] += low
        mine = camera[2]
        for track, vote in votes.items():
            old = mine.get(track)
            if old is None or vote[0] > old[0] or (vote[0] == old[0] and vote[1] > old[1]):
                mine[track] = vote
    return window


def _merge_windows(a: Cameras, b: Cameras) -> Cameras:  # sliding windows never merge; bytewax asks for one
    return _merge_pane(a, (0, b))


def _windows(length: int, min_tracks: int, item: tuple[str, tuple[int, Cameras]]) -> Iterator[SentimentWindow]:
    site, (window_id, cameras) = item
    end = (window_id + length) * 60_000
    total = WindowAggregate()
    for name in sorted(cameras):
        faces, low, votes = cameras[name]
        agg = WindowAggregate.from_votes(votes.values(), faces, low)
        total = total + agg
        yield window_event(site, name, end, length, agg, min_tracks)
    yield window_event(site, None, end, length, total, min_tracks)


def dataflow(events: Sequence[Mapping[str, Any]], config: EngineConfig, out: list[SentimentWindow],
             batch_size: int = 5_000) -> Dataflow:
    flow = Dataflow("moodlens_windows")
    stream = op.input("events", flow, TestingSource(events, batch_size=batch_size))
    faces = op.filter("faces", stream, lambda e: e["schema"] == "face_expression")  # heartbeats make no window
    by_site = op.key_on("site", faces, lambda e: e["site_id"])
    fixed = datetime(2000, 1, 1, tzinfo=UTC)  # event time only: the wall clock never moves the watermark
    lateness = timedelta(milliseconds=config.allowed_lateness_ms)
    clock = win.EventClock(_event_time, lateness, now_getter=lambda: fixed, to_system_utc=lambda _: None)
    panes = win.fold_window("panes", by_site, clock, win.TumblingWindower(MINUTE, EPOCH), _new_pane, _add_event,
                            lambda a, b: a, ordered=False)
    minutes = op.map_value("minutes", panes.down, lambda pane: (pane[0], pane[1][1]))
    pane_clock: win.EventClock[tuple[int, Cameras]] = win.EventClock(
        lambda pane: EPOCH + pane[0] * MINUTE, lateness, now_getter=lambda: fixed, to_system_utc=lambda _: None)
    for length in config.window_minutes:
        windows = win.fold_window(f"windows_{length}", minutes, pane_clock,
                                  win.SlidingWindower(length * MINUTE, MINUTE, EPOCH), dict, _merge_pane,
                                  _merge_windows, ordered=False)
        events_out = op.flat_map(f"sentiment_{length}", windows.down, partial(_windows, length, config.min_tracks))
        op.output(f"out_{length}", events_out, TestingSink(out))
    return flow


def run(events: Sequence[Mapping[str, Any]], config: EngineConfig) -> list[SentimentWindow]:
    """The sentiment_window events bytewax computes for ``events`` (in its own order)."""
    out: list[SentimentWindow] = []
    run_main(dataflow(events, config, out))
    return out
