"""Independent alarm histories: four sites whose customers the edge would report, written from scratch.

    PYTHONPATH=. .venv/bin/python benchmarks/alarm_histories.py [--seed 1] [--days 7] [--scale 1]

A second source of histories for `benchmarks/alarm_incidents.py`, built without the project's own
generator so that alarm rules cannot be tuned to one. ``generate(seed, days, scale)`` returns the
events the real edge writes (`edge.events`, `edge.heartbeat`: ``face_expression`` ``track_update``s
and one ``track_end`` per track, ``camera_heartbeat`` per camera per minute, day and night) and the
sites' profiles (``cameras``, ``open_hours(weekday)``).

Sites (hours UTC, customers per 15 minutes at ``scale`` 1):

* ``cafe-busy``     open 7-19 (weekends 8-18); ~6 a window, morning peak at 8:30 and lunch peak at 12:45 of ~25-30
* ``cinema-rex``    open 13-24 (weekends 10-24); the audience (35-70 a showing, weekends 60-120) arrives in the
  20 minutes before each showing and leaves in the 20 minutes after it ends; between, a customer now and then
* ``shop-quiet``    open 9-18, closed Sundays; 3 to 5 customers every 15 minutes
* ``bistro-two``    lunch 11-15 and dinner 18-23, closed between and on Mondays; ~8-20 a window

What makes them hard, each at a stated rate (tested in ``tests/benchmarks/test_alarm_histories.py``):

* two cameras with overlapping fields of view: a sighting on one is also reported by its neighbour,
  with its own track id (``OVERLAP`` of the sightings on such a pair);
* broken tracks: one sighting split into two (``SPLIT_TWO``) or three (``SPLIT_THREE``) track ids;
* parties of 2-6 arriving together whose moods are shared (one mood offset, and often the same expression);
* the day's mood (a good Friday, a flat Monday, a random offset per site and day) and weekly seasonality
  in traffic; a cinema audience leaves in the mood of its film;
* some faces too small or dark for the quality gate (``usable`` false);
* the classifier's own confusion (``confusion=True``): each track's expression is drawn from the row of
  the person's true expression in the shipped model card's ``confusion_shipped`` (rows true, columns
  predicted), one draw per track, so the two cameras and the pieces of a broken track may disagree.

The edge runs with ``--update-interval 10`` here (a track_update every 10 s of a track; the edge's
default 1 s multiplies the updates tenfold and changes no customer's vote, which is the track's).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge.events import EventContext, face_expression_event
from edge.heartbeat import HeartbeatEmitter, PipelineCounters
from edge.quality import FaceQuality, Flaw
from schemas.expressions import EXPRESSIONS, VALENCE
from schemas.ids import encode_ulid

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SLOT_MS = 15 * MINUTE_MS
START_MS = int(datetime(2026, 9, 7, tzinfo=UTC).timestamp() * 1000)  # a Monday, midnight UTC
MODEL_CARD = Path(__file__).resolve().parent.parent / "edge" / "models" / "expression.json"
EDGE_VERSION = "0.1.0"
EDGE_RESTART_HOUR = 4  # the edge restarts nightly: new track id prefix, uptime from zero
HEARTBEAT_MS = MINUTE_MS  # the edge run with --heartbeat-interval 60
FPS = 15.0
OVERLAP = 0.3  # of the sightings on a camera with an overlapping neighbour, the share the neighbour reports too
SPLIT_TWO, SPLIT_THREE = 0.12, 0.04  # of the tracks a sighting should have been, the share broken in two / three
UNUSABLE = 0.06  # of the tracks, the share whose faces fail the quality gate (too small or dark)
TRACK_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # as the edge's tracker writes its prefixes
# An ordinary customer's expression (mood 0); mood m tilts it by exp(TILT * m * valence of the class).
BASE_SHARES = {"angry": 0.04, "disgust": 0.015, "fear": 0.02, "happy": 0.33, "sad": 0.06, "surprise": 0.05,
               "neutral": 0.485}
TILT = 2.2
WEEKDAY_MOOD = (-0.10, -0.03, 0.0, 0.02, 0.12, 0.06, 0.03)  # a flat Monday, a good Friday
DAY_MOOD_SD = 0.08  # the site's own day-to-day mood
PARTY_MOOD_SD, PERSON_MOOD_SD = 0.25, 0.2
SAME_AS_LEADER = 0.5  # chance a party member shows the expression of the party's first member


@dataclass(frozen=True)
class SiteProfile:
    name: str
    kind: str  # cafe | cinema | shop | bistro: which traffic curve
    cameras: tuple[str, ...]
    camera_weights: tuple[float, ...]  # where a customer is seen
    overlapping: tuple[str, str]  # two cameras whose fields of view overlap
    services: tuple[tuple[tuple[int, int], ...], ...]  # Monday..Sunday: (open hour, close hour) pairs
    weekday_traffic: tuple[float, ...]  # Monday..Sunday
    party_weights: tuple[float, ...]  # party of 1, 2, ... 6
    mood: float
    seconds_in_view: float  # median time one sighting's face is in view

    def open_hours(self, weekday: int) -> list[int]:
        return [h for start, end in self.services[weekday] for h in range(start, end)]


def _week(weekdays: tuple[tuple[int, int], ...], weekend: tuple[tuple[int, int], ...],
          closed: tuple[int, ...] = ()) -> tuple[tuple[tuple[int, int], ...], ...]:
    return tuple(() if day in closed else weekend if day >= 5 else weekdays for day in range(7))


PROFILES: dict[str, SiteProfile] = {p.name: p for p in (
    SiteProfile("cafe-busy", "cafe", ("door", "counter", "terrace"), (0.4, 0.4, 0.2), ("door", "counter"),
                _week(((7, 19),), ((8, 18),)), (0.85, 0.9, 0.95, 1.0, 1.1, 1.25, 1.0),
                (0.55, 0.25, 0.1, 0.1), 0.15, 20.0),
    SiteProfile("cinema-rex", "cinema", ("lobby", "bar", "exit"), (0.6, 0.4, 0.0), ("lobby", "bar"),
                _week(((13, 24),), ((10, 24),)), (0.6, 0.7, 0.8, 0.85, 1.2, 1.4, 1.2),
                (0.2, 0.4, 0.15, 0.15, 0.05, 0.05), 0.1, 12.0),
    SiteProfile("shop-quiet", "shop", ("entrance", "tills"), (0.5, 0.5), ("entrance", "tills"),
                _week(((9, 18),), ((9, 18),), closed=(6,)), (1.0,) * 7, (0.85, 0.15), 0.0, 25.0),
    SiteProfile("bistro-two", "bistro", ("door", "dining"), (0.35, 0.65), ("door", "dining"),
                _week(((11, 15), (18, 23)), ((11, 15), (18, 23)), closed=(0,)), (1.0, 0.8, 0.85, 0.95, 1.2, 1.3, 1.1),
                (0.1, 0.45, 0.15, 0.2, 0.05, 0.05), 0.2, 60.0),
)}
SHOWINGS = {"weekday": (14 * 60, 17 * 60 + 30, 20 * 60 + 30), "weekend": (11 * 60, 14 * 60, 17 * 60 + 30, 21 * 60)}
CROWD_MINUTES = 20


@dataclass(frozen=True)
class Sighting:
    """One pass of one person in front of one camera: what the tracker should follow as one track."""

    site: str
    camera: str
    person: str
    party: str
    start_ms: int
    end_ms: int
    true_class: str
    duplicate: bool = False  # the overlapping camera's report of a sighting on its neighbour


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def slot_people(profile: SiteProfile, weekday: int, slot_start_minute: int, scale: float,
                rng: random.Random) -> int:
    """Customers arriving in one open 15-minute slot (cinema crowds come from ``showings``)."""
    hour = (slot_start_minute + 7.5) / 60
    factor = profile.weekday_traffic[weekday] * scale
    if profile.kind == "cafe":
        return poisson(rng, factor * (6 + 22 * bump(hour, 8.5, 0.6) + 20 * bump(hour, 12.75, 0.7)))
    if profile.kind == "shop":
        wanted = rng.randint(3, 5) * scale  # the stated range, at scale 1 exactly
        return int(wanted) + (rng.random() < wanted - int(wanted))
    if profile.kind == "bistro":
        return poisson(rng, factor * (8 + 12 * bump(hour, 12.6, 0.6) + 12 * bump(hour, 20.0, 0.9)))
    return poisson(rng, 0.5 * factor)  # the cinema between crowds


def mood_of_day(site: str, day: int, seed: int, weekday: int, profile: SiteProfile) -> float:
    # bandit B311: seeded PRNG for reproducible benchmark data, not for secrets
    rng = random.Random(f"{seed}/{site}/day/{day}")  # nosec B311
    return profile.mood + WEEKDAY_MOOD[weekday] + rng.gauss(0.0, DAY_MOOD_SD)


def expression(rng: random.Random, mood: float) -> str:
    weights = [BASE_SHARES[name] * math.exp(TILT * mood * VALENCE[name]) for name in EXPRESSIONS]
    return rng.choices(EXPRESSIONS, weights)[0]


@dataclass(frozen=True)
class Party:
    arrive_ms: int
    size: int
    mood: float = 0.0  # the moment's shift (a cinema audience leaves in its film's mood)
    leaving: bool = False  # a cinema audience on its way out, seen by the exit camera
    crowd: bool = False  # part of a cinema audience (coming or going), not a customer between showings


def party_size(profile: SiteProfile, rng: random.Random, most: int) -> int:
    return min(most, rng.choices(range(1, len(profile.party_weights) + 1), profile.party_weights)[0])


def crowd(profile: SiteProfile, rng: random.Random, from_ms: int, people: int, mood: float,
          leaving: bool) -> list[Party]:
    parties = []
    while people > 0:
        size = party_size(profile, rng, people)
        # most come in the middle of the 20 minutes, few at the edges
        parties.append(Party(from_ms + int(rng.triangular(0, CROWD_MINUTES * MINUTE_MS - 1)), size, mood, leaving,
                             crowd=True))
        people -= size
    return parties


def arrivals(profile: SiteProfile, day: int, scale: float, rng: random.Random) -> list[Party]:
    """One day's parties, in order of arrival."""
    weekday = day % 7
    midnight = START_MS + day * DAY_MS
    parties: list[Party] = []
    crowded: set[int] = set()  # 15-minute slots of the day taken by a cinema crowd
    if profile.kind == "cinema" and profile.services[weekday]:
        low, high = (60, 120) if weekday >= 5 else (35, 70)
        for begins in SHOWINGS["weekend" if weekday >= 5 else "weekday"]:
            ends = begins + rng.randint(95, 130)
            audience = round(rng.randint(low, high) * scale)
            parties += crowd(profile, rng, midnight + (begins - CROWD_MINUTES) * MINUTE_MS, audience, 0.0, False)
            parties += crowd(profile, rng, midnight + ends * MINUTE_MS, round(audience * 0.8),
                             rng.gauss(0.0, 0.15), True)
            crowded |= {m // 15 for m in range(begins - CROWD_MINUTES, begins)}
            crowded |= {m // 15 for m in range(ends, ends + CROWD_MINUTES)}
    for hour in profile.open_hours(weekday):
        for slot in range(hour * 4, hour * 4 + 4):
            if slot in crowded:
                continue
            people = slot_people(profile, weekday, slot * 15, scale, rng)
            while people > 0:
                size = party_size(profile, rng, people)
                parties.append(Party(midnight + slot * SLOT_MS + rng.randrange(SLOT_MS), size))
                people -= size
    return sorted(parties, key=lambda p: (p.arrive_ms, p.size))


def closing_ms(profile: SiteProfile, time_ms: int) -> int:
    """When the service open at ``time_ms`` ends (a cinema crowd may leave after the hour it came in)."""
    midnight = START_MS + (time_ms - START_MS) // DAY_MS * DAY_MS
    hour = (time_ms - midnight) / HOUR_MS
    ends = [end for start, end in profile.services[(time_ms - START_MS) // DAY_MS % 7] if start <= hour < end]
    return midnight + (ends[0] if ends else math.ceil(hour)) * HOUR_MS


def sightings(seed: int, days: int, scale: float, sites: tuple[str, ...] | None = None) -> list[Sighting]:
    """The ground truth: who was seen where, when, looking how (before the classifier's confusion)."""
    out: list[Sighting] = []
    for name in sites or tuple(PROFILES):
        profile = PROFILES[name]
        for day in range(days):
            # bandit B311: seeded PRNG for reproducible benchmark data, not for secrets
            rng = random.Random(f"{seed}/{name}/{day}/{scale}")  # nosec B311
            day_mood = mood_of_day(name, day, seed, day % 7, profile)
            for number, party in enumerate(arrivals(profile, day, scale, rng)):
                party_id = f"{name}/{day}/{number}"
                party_mood = day_mood + party.mood + rng.gauss(0.0, PARTY_MOOD_SD)
                close_ms = closing_ms(profile, party.arrive_ms)
                leader = expression(rng, party_mood + rng.gauss(0.0, PERSON_MOOD_SD))  # the first member's
                for member in range(party.size):
                    shown = leader if not member or rng.random() < SAME_AS_LEADER else expression(
                        rng, party_mood + rng.gauss(0.0, PERSON_MOOD_SD))
                    start = min(party.arrive_ms + rng.randrange(0, 40_000) * (member > 0), close_ms - 5_000)
                    camera = "exit" if party.leaving else rng.choices(profile.cameras, profile.camera_weights)[0]
                    seconds = rng.lognormvariate(math.log(profile.seconds_in_view), 0.6)
                    end = min(start + max(1_000, int(seconds * 1000)), close_ms - 1)
                    person = f"{party_id}/{member}"
                    out.append(Sighting(name, camera, person, party_id, start, end, shown))
                    if camera in profile.overlapping and rng.random() < OVERLAP:
                        other = profile.overlapping[1 - profile.overlapping.index(camera)]
                        lag = rng.randrange(0, 3_000)
                        out.append(Sighting(name, other, person, party_id, start + lag,
                                            max(start + lag + 1_000, end - rng.randrange(0, 3_000)), shown, True))
    return sorted(out, key=lambda s: (s.start_ms, s.site, s.camera, s.person))


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


def generate(seed: int, days: int, scale: float, confusion: bool = True,
             update_interval_ms: int = 10_000) -> tuple[list[dict[str, Any]], dict[str, SiteProfile]]:
    """Edge events of the four sites over ``days`` from `START_MS`, and their profiles."""
    if days < 1 or scale <= 0:
        raise ValueError(f"days must be >= 1 and scale > 0, got days={days}, scale={scale}")
    return render(sightings(seed, days, scale), seed, days, confusion, update_interval_ms), dict(PROFILES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    events, _ = generate(args.seed, args.days, args.scale)
    kinds = Counter((e["site_id"], e["schema"], e.get("kind", "")) for e in events)
    for (site, schema, kind), count in sorted(kinds.items()):
        print(f"{site:12s} {schema:17s} {kind:13s} {count:>9,}")
    print(f"{len(events):,} events, {args.days} days from {datetime.fromtimestamp(START_MS / 1000, UTC):%Y-%m-%d}")


if __name__ == "__main__":
    main()
