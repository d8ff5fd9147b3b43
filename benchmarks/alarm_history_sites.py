"""The people of the independent alarm histories (`benchmarks.alarm_histories`): the four sites, who
comes when, in parties, in which mood, and which camera sees them (the ground truth, before the edge)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.expressions import EXPRESSIONS, VALENCE

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SLOT_MS = 15 * MINUTE_MS
START_MS = int(datetime(2026, 9, 7, tzinfo=UTC).timestamp() * 1000)  # a Monday, midnight UTC
OVERLAP = 0.3  # of the sightings on a camera with an overlapping neighbour, the share the neighbour reports too
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
