"""The independent alarm histories as the edge reports them (`benchmarks.alarm_histories`): each sighting
as the tracker's tracks (some broken), the edge's own face events and heartbeats, the classifier's confusion."""

from __future__ import annotations

import itertools
import json
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.alarm_history_sites import DAY_MS, HOUR_MS, MINUTE_MS, PROFILES, START_MS, Sighting, SiteProfile
from edge.events import EventContext, face_expression_event
from edge.heartbeat import HeartbeatEmitter, PipelineCounters
from edge.quality import FaceQuality, Flaw
from schemas.expressions import EXPRESSIONS
from schemas.ids import encode_ulid

MODEL_CARD = Path(__file__).resolve().parent.parent / "edge" / "models" / "expression.json"
EDGE_VERSION = "0.1.0"
EDGE_RESTART_HOUR = 4  # the edge restarts nightly: new track id prefix, uptime from zero
HEARTBEAT_MS = MINUTE_MS  # the edge run with --heartbeat-interval 60
FPS = 15.0
SPLIT_TWO, SPLIT_THREE = 0.12, 0.04  # of the tracks a sighting should have been, the share broken in two / three
UNUSABLE = 0.06  # of the tracks, the share whose faces fail the quality gate (too small or dark)
TRACK_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # as the edge's tracker writes its prefixes


def confusion_rows() -> dict[str, list[float]]:
    rows = json.loads(MODEL_CARD.read_text())["confusion_shipped"]
    return {name: [count / sum(row) for count in row] for name, row in zip(EXPRESSIONS, rows, strict=True)}


def model() -> tuple[str, str]:
    card = json.loads(MODEL_CARD.read_text())
    return str(card.get("model_id") or "moodlens-expression"), str(card["version"])


def probabilities(rng: random.Random, top: str) -> np.ndarray:
    """A classifier output (in `EXPRESSIONS` order) whose most probable class is ``top``."""
    share = rng.uniform(0.45, 0.95)
    # the others share the rest; each at most 1.2 / (1.2 + 5 * 0.2) of it, so below ``share``
    weights = [0.0 if name == top else rng.random() + 0.2 for name in EXPRESSIONS]
    total = sum(weights)
    return np.array([share if name == top else (1 - share) * w / total for name, w in zip(EXPRESSIONS, weights,
                                                                                           strict=True)])


@dataclass(frozen=True)
class Track:
    sighting: Sighting
    track_id: str
    start_ms: int
    end_ms: int


def tracks(seen: list[Sighting], seed: int) -> list[Track]:
    """Each sighting as the tracker reports it: one track id, or two or three when the track broke."""
    prefixes: dict[tuple[str, str, int], str] = {}
    counters: Counter[tuple[str, str, int]] = Counter()
    out = []
    for s in seen:
        # bandit B311: seeded PRNG for reproducible benchmark data, not for secrets
        rng = random.Random(f"{seed}/{s.site}/{s.camera}/{s.person}/{s.duplicate}")  # nosec B311
        run = (s.site, s.camera, (s.start_ms - START_MS - EDGE_RESTART_HOUR * HOUR_MS) // DAY_MS)
        if run not in prefixes:
            prefixes[run] = "".join(rng.choice(TRACK_ID_ALPHABET) for _ in range(5))
        draw = rng.random()
        pieces = 3 if draw < SPLIT_THREE else 2 if draw < SPLIT_THREE + SPLIT_TWO else 1
        if s.end_ms - s.start_ms < pieces * 1_500:
            pieces = 1
        cuts = sorted(rng.randrange(s.start_ms + 500, s.end_ms - 500) for _ in range(pieces - 1))
        bounds = [s.start_ms, *cuts, s.end_ms]
        for a, b in itertools.pairwise(bounds):
            gap = rng.randrange(1_000, 4_000) if b != s.end_ms else 0  # lost for over a second: a new track
            counters[run] += 1
            out.append(Track(s, f"{prefixes[run]}-{counters[run]}", a, max(a + 200, b - gap)))
    return out


def face_events(track: Track, predicted: str, rng: random.Random, context: EventContext,
                update_interval_ms: int) -> Iterator[dict[str, Any]]:
    """The track's events as the edge's own `face_expression_event` builds them (with seeded ids)."""
    s = track.sighting
    usable = rng.random() >= UNUSABLE
    quality = FaceQuality(rng.randint(48, 220) if usable else rng.randint(18, 39), rng.uniform(20.0, 600.0),
                          rng.uniform(60.0, 200.0), () if usable else (Flaw.TOO_SMALL,))
    height = quality.face_px / 1080
    x, y = rng.uniform(0.0, 0.9), rng.uniform(0.0, 0.8)
    box = {"x": round(x, 4), "y": round(y, 4), "w": round(min(height * 0.8, 1.0 - x), 4),
           "h": round(min(height, 1.0 - y), 4)}
    here = replace(context, site_id=s.site, camera_id=s.camera)
    # the first update once the track is confirmed (a few frames), then one per interval while in view
    times = [(t, "track_update") for t in range(track.start_ms + 200, track.end_ms, update_interval_ms)]
    for t, kind in [*times, (track.end_ms, "track_end")]:
        duration = track.end_ms - track.start_ms
        event = face_expression_event(here, track.track_id, kind, t, box, quality, usable,
                                      probabilities(rng, predicted), duration_ms=duration,
                                      frame_count=max(1, int(duration / 1000 * FPS)))
        event["event_id"] = encode_ulid(t, rng.randbytes(10))
        yield event


@dataclass
class SourceClock:
    """The camera's frame time, which the edge's heartbeats follow."""

    time_ms: int = START_MS

    def seconds(self) -> float:
        return self.time_ms / 1000

    def ms(self) -> int:
        return self.time_ms


class NoSpool:
    """The spool of an edge whose link keeps up: nothing waiting, nothing dropped."""

    dropped_count = 0

    def depth(self) -> int:
        return 0


def heartbeats(profile: SiteProfile, all_tracks: list[Track], seed: int, days: int,
               version: str) -> Iterator[dict[str, Any]]:
    """One heartbeat per camera per minute, day and night, by the edge's own `HeartbeatEmitter`; the edge
    restarts every night at `EDGE_RESTART_HOUR` (uptime from zero)."""
    for camera in profile.cameras:
        mine = [t for t in all_tracks if t.sighting.site == profile.name and t.sighting.camera == camera]
        starts, ends = sorted(t.start_ms for t in mine), sorted(t.end_ms for t in mine)
        in_view: Counter[int] = Counter()  # minute -> ms of faces in view in it
        for track in mine:
            for minute in range(track.start_ms // MINUTE_MS, track.end_ms // MINUTE_MS + 1):
                in_view[minute] += max(0, min(track.end_ms, (minute + 1) * MINUTE_MS)
                                       - max(track.start_ms, minute * MINUTE_MS))
        # bandit B311: seeded PRNG for reproducible benchmark data, not for secrets
        rng = random.Random(f"{seed}/{profile.name}/{camera}/heartbeats")  # nosec B311
        offset = rng.randrange(0, MINUTE_MS)
        clock = SourceClock()
        emitter: HeartbeatEmitter | None = None
        frames = faces = 0
        for minute in range(days * 24 * 60):
            t = START_MS + minute * MINUTE_MS + offset
            clock.time_ms = t
            if emitter is None or (t - START_MS - EDGE_RESTART_HOUR * HOUR_MS) % DAY_MS < MINUTE_MS:
                emitter = HeartbeatEmitter(profile.name, camera, NoSpool(), lambda: version, EDGE_VERSION,
                                           HEARTBEAT_MS / 1000, monotonic=clock.seconds, wall_ms=clock.ms)
                frames = faces = 0
            else:
                frames += int(HEARTBEAT_MS / 1000 * FPS * rng.uniform(0.97, 1.0))  # a few frames dropped
            faces += int(in_view[t // MINUTE_MS - 1] / 1000 * FPS)
            beat = dict(emitter.build(PipelineCounters(frames, faces, bisect_right(starts, t) - bisect_right(ends, t))))
            beat["event_id"] = encode_ulid(t, rng.randbytes(10))
            yield beat


def render(seen: list[Sighting], seed: int, days: int, confusion: bool = True,
           update_interval_ms: int = 10_000) -> list[dict[str, Any]]:
    """The events the edges of the sites in ``seen`` would write, in time order."""
    model_id, version = model()
    context = EventContext("", "", model_id, version, EDGE_VERSION)
    rows = confusion_rows() if confusion else None
    all_tracks = tracks(seen, seed)
    events: list[dict[str, Any]] = []
    for track in all_tracks:
        # bandit B311: one seeded draw per track, reproducible, not for secrets
        rng = random.Random(f"{seed}/{track.sighting.site}/{track.sighting.camera}/{track.track_id}")  # nosec B311
        shown = track.sighting.true_class
        predicted = rng.choices(EXPRESSIONS, rows[shown])[0] if rows else shown
        events += face_events(track, predicted, rng, context, update_interval_ms)
    for name in sorted({s.site for s in seen} or PROFILES):
        events += heartbeats(PROFILES[name], all_tracks, seed, days, version)
    events.sort(key=lambda e: (e["event_time_ms"], e["event_id"]))
    return events
