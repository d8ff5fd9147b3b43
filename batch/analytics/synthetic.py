"""Realistic synthetic history: several sites and cameras over weeks, as contract-valid events.

What it plants, so that tests and benchmarks can check the analytics find it again:

* opening hours per site (a café, a cinema, a shop closed on Sundays), weekly seasonality
  (weekend crowds), a lunch peak (café, shop) or an evening peak (cinema);
* each visit is one anonymous track: a ``track_end`` summary plus ``updates_per_visit``
  ``track_update`` events, and every camera sends a heartbeat every ``heartbeat_minutes``,
  day and night (the edge runs all the time; only customers come and go);
* a customer's vote is positive (happy), negative (angry/sad/disgust/fear) or neither with
  probabilities whose difference is the hour's *mood*, so an hour's expected net score is
  exactly its mood: mood = site base + hour/weekday pattern + business effects + incidents;
* business events (``business.csv``: time, site, kind, value) with known effects on the net
  score: ``promotion`` (+0.12 while on), ``queue_length`` (−0.03 per person waiting) and
  ``new_playlist`` (no effect at all: the null kind);
* incidents: a bad evening at one site (mood −0.6 for four hours) and a silent camera (no
  events and no heartbeats for a day and a half), both in the last week so a weekly report
  shows them; and a model upgrade half-way through.

Times are UTC and opening hours are given in UTC. Deterministic: the same config gives the same
events, byte for byte (event ids are drawn from the seeded generator, not the OS).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from schemas.expressions import EXPRESSIONS, valence

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NEGATIVE_CLASSES = ("angry", "sad", "disgust", "fear")
NEGATIVE_WEIGHTS = (0.35, 0.35, 0.15, 0.15)
MODEL_ID = "moodlens-expression-vgg32"
EDGE_VERSION = "0.1.0"

# Planted effects on the hourly net score (the drivers test recovers these).
PLANTED_EFFECTS: dict[str, float] = {"promotion": 0.12, "queue_length": -0.03, "new_playlist": 0.0}
BAD_EVENING_EFFECT = -0.6


@dataclass(frozen=True)
class SiteProfile:
    name: str
    cameras: tuple[str, ...]
    camera_weights: tuple[float, ...]
    hours: tuple[int, int]  # open from, to (UTC hours, to exclusive)
    weekend_hours: tuple[int, int] | None  # None: closed on Saturday and Sunday ... see closed_days
    closed_days: tuple[int, ...]  # 0 = Monday
    visits_per_hour: float
    weekday_factor: tuple[float, ...]  # Monday..Sunday
    peak_hour: float
    peak_boost: float
    base_mood: float
    busy_mood: float  # mood change at the peak (crowds annoy)
    visit_seconds: float


PROFILES: tuple[SiteProfile, ...] = (
    SiteProfile("cafe-central", ("door", "counter", "terrace"), (0.45, 0.35, 0.2), (7, 19), (8, 18), (),
                22.0, (0.9, 0.9, 0.95, 1.0, 1.15, 1.3, 1.1), 12.5, 1.6, 0.25, -0.10, 40.0),
    SiteProfile("cinema-north", ("lobby", "bar"), (0.6, 0.4), (14, 23), (11, 24), (),
                18.0, (0.6, 0.65, 0.8, 0.85, 1.2, 1.5, 1.3), 20.0, 1.4, 0.30, -0.05, 90.0),
    SiteProfile("shop-east", ("entrance", "tills"), (0.55, 0.45), (9, 20), (9, 18), (6,),
                16.0, (0.9, 0.9, 0.9, 1.0, 1.1, 1.4, 0.0), 13.0, 1.2, 0.10, -0.12, 30.0),
)


@dataclass(frozen=True)
class HistoryConfig:
    sites: int = 3
    days: int = 60
    seed: int = 1
    start: date = date(2026, 9, 7)  # a Monday
    updates_per_visit: int = 1
    heartbeat_minutes: int = 4  # under the stream's 5-minute silent-camera threshold
    visit_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.sites < 1 or self.days < 1:
            raise ValueError("--sites and --days must be at least 1")
        if self.heartbeat_minutes < 1 or self.updates_per_visit < 0 or self.visit_scale <= 0:
            raise ValueError("heartbeat_minutes >= 1, updates_per_visit >= 0 and visit_scale > 0 are required")


@dataclass(frozen=True)
class Incident:
    kind: str  # bad_evening | silent_camera | model_upgrade
    site_id: str
    camera_id: str | None
    start_ms: int
    end_ms: int
    note: str


@dataclass
class History:
    events: list[dict[str, Any]]
    business: list[tuple[int, str, str, float]]  # (time_ms, site, kind, value)
    incidents: list[Incident]
    sites: dict[str, tuple[str, ...]] = field(default_factory=dict)  # site -> cameras
    start_ms: int = 0
    end_ms: int = 0


def site_profiles(count: int) -> list[tuple[str, SiteProfile]]:
    """`count` sites cycling through the profiles: cafe-central, cinema-north, shop-east, cafe-central-2..."""
    out = []
    for index in range(count):
        profile = PROFILES[index % len(PROFILES)]
        suffix = "" if index < len(PROFILES) else f"-{index // len(PROFILES) + 1}"
        out.append((profile.name + suffix, profile))
    return out


def opening_hours(profile: SiteProfile, weekday: int) -> range:
    if weekday in profile.closed_days:
        return range(0)
    start, end = profile.weekend_hours if weekday >= 5 and profile.weekend_hours else profile.hours
    return range(start, end)


def _ulid(time_ms: int, rng: random.Random) -> str:
    value = (time_ms << 80) | rng.getrandbits(80)
    return "".join(_ULID_ALPHABET[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def _probabilities(top: str, rng: random.Random) -> dict[str, float]:
    """A softmax-like vector whose largest entry is `top`, rounded for the wire, summing to 1."""
    strength = rng.uniform(0.55, 0.92)
    others = [name for name in EXPRESSIONS if name != top]
    weights = [rng.gammavariate(1.5, 1.0) for _ in others]
    scale = (1.0 - strength) / sum(weights)
    probabilities = {name: round(weight * scale, 4) for name, weight in zip(others, weights, strict=True)}
    probabilities[top] = round(1.0 - sum(probabilities.values()), 4)
    return probabilities


class _Generator:
    def __init__(self, config: HistoryConfig) -> None:
        self.config = config
        # bandit B311: seeded PRNG for reproducible synthetic data, not for secrets
        self.rng = random.Random(config.seed)  # nosec B311
        # Heartbeats draw from their own stream, so their interval never changes the visits.
        # bandit B311: seeded PRNG for reproducible synthetic data, not for secrets
        self.beats = random.Random(f"{config.seed}-heartbeats")  # nosec B311
        self.counts = np.random.default_rng(config.seed)  # Poisson draws only
        self.start_ms = int(datetime(config.start.year, config.start.month, config.start.day,
                                     tzinfo=UTC).timestamp() * 1000)
        self.end_ms = self.start_ms + config.days * DAY_MS
        self.sites = site_profiles(config.sites)
        self.track_counter: dict[tuple[str, str], int] = {}
        self.events: list[dict[str, Any]] = []
        self.business: list[tuple[int, str, str, float]] = []
        self.incidents = self._plan_incidents()

    def _plan_incidents(self) -> list[Incident]:
        days = self.config.days
        incidents = [Incident("model_upgrade", "*", None, self.start_ms + (days // 2) * DAY_MS, self.end_ms,
                              "expression model 1.0.0 -> 1.1.0 on every camera")]
        evening_site = next((name for name, p in self.sites if p.name == "cinema-north"), self.sites[0][0])
        profile = dict(self.sites)[evening_site]
        bad_day = max(0, days - 5)
        weekday = (self.config.start + timedelta(days=bad_day)).weekday()
        hours = opening_hours(profile, weekday) or range(17, 21)
        last = hours[-1] + 1
        start = self.start_ms + bad_day * DAY_MS + (last - 4) * HOUR_MS
        incidents.append(Incident("bad_evening", evening_site, None, start, start + 4 * HOUR_MS,
                                  "broken air conditioning: a bad evening"))
        silent_site, silent_profile = self.sites[-1]
        silent_start = self.start_ms + max(0, days - 4) * DAY_MS + 10 * HOUR_MS
        camera = silent_profile.cameras[-1]
        incidents.append(Incident("silent_camera", silent_site, camera, silent_start,
                                  min(self.end_ms, silent_start + 36 * HOUR_MS), "camera unplugged"))
        return incidents

    def _incident(self, kind: str, site: str, time_ms: int, camera: str | None = None) -> bool:
        return any(i.kind == kind and i.site_id == site and i.start_ms <= time_ms < i.end_ms
                   and (camera is None or i.camera_id == camera) for i in self.incidents)

    def _model_version(self, time_ms: int) -> str:
        return "1.1.0" if time_ms >= self.incidents[0].start_ms else "1.0.0"

    def run(self) -> History:
        for site, profile in self.sites:
            self._site(site, profile)
        self.events.sort(key=lambda e: (e["event_time_ms"], e["event_id"]))
        self.business.sort()
        return History(self.events, self.business, self.incidents, {s: p.cameras for s, p in self.sites},
                       self.start_ms, self.end_ms)

    def _site(self, site: str, profile: SiteProfile) -> None:
        rng = self.rng
        for day in range(self.config.days):
            day_ms = self.start_ms + day * DAY_MS
            weekday = (self.config.start + timedelta(days=day)).weekday()
            hours = opening_hours(profile, weekday)
            promotion = rng.random() < 0.2 and len(hours) > 0
            for hour in hours:
                hour_ms = day_ms + hour * HOUR_MS
                self._hour(site, profile, weekday, hour, hour_ms, promotion)
            for camera in profile.cameras:
                self._heartbeats(site, camera, day_ms, hours)

    def _hour(self, site: str, profile: SiteProfile, weekday: int, hour: int, hour_ms: int,
              promotion: bool) -> None:
        rng = self.rng
        peak = math.exp(-0.5 * ((hour + 0.5 - profile.peak_hour) / 1.3) ** 2)
        intensity = (profile.visits_per_hour * profile.weekday_factor[weekday] * (1.0 + profile.peak_boost * peak)
                     * self.config.visit_scale)
        visits = int(self.counts.poisson(intensity))
        queue = max(0, round(visits / 8 + rng.gauss(0, 1.2)))
        playlist = rng.random() < 0.15
        mood = (profile.base_mood + profile.busy_mood * peak + (0.05 if weekday >= 5 else 0.0)
                + rng.gauss(0, 0.03))
        mood += PLANTED_EFFECTS["promotion"] * promotion + PLANTED_EFFECTS["queue_length"] * queue
        if self._incident("bad_evening", site, hour_ms):
            mood += BAD_EVENING_EFFECT
        mood = max(-0.6, min(0.6, mood))
        stamp = hour_ms + rng.randrange(60_000)
        self.business.append((stamp, site, "queue_length", float(queue)))
        if promotion:
            self.business.append((hour_ms, site, "promotion", 1.0))
        if playlist:
            self.business.append((hour_ms + 60_000, site, "new_playlist", 1.0))
        neither = 0.35
        p_positive, p_negative = (1 - neither + mood) / 2, (1 - neither - mood) / 2
        cameras = profile.cameras
        silent = [i for i in self.incidents if i.kind == "silent_camera" and i.site_id == site]
        for camera in rng.choices(cameras, weights=profile.camera_weights, k=visits):
            start = hour_ms + rng.randrange(HOUR_MS)
            if any(i.camera_id == camera and i.start_ms <= start < i.end_ms for i in silent):
                continue  # nobody is counted by an unplugged camera
            draw = rng.random()
            if draw < p_positive:
                top = "happy"
            elif draw < p_positive + p_negative:
                top = rng.choices(NEGATIVE_CLASSES, weights=NEGATIVE_WEIGHTS)[0]
            else:
                top = "neutral" if rng.random() < 0.85 else "surprise"
            self._visit(site, camera, start, top, profile.visit_seconds)

    def _visit(self, site: str, camera: str, start_ms: int, top: str, visit_seconds: float) -> None:
        rng = self.rng
        key = (site, camera)
        self.track_counter[key] = self.track_counter.get(key, 0) + 1
        track_id = f"t{self.track_counter[key]}"
        duration = int(rng.lognormvariate(math.log(visit_seconds * 1000), 0.5))
        if start_ms + duration >= self.end_ms:
            return  # still in view when the history ends: the visit has not ended yet
        probabilities = _probabilities(top, rng)
        usable = rng.random() < 0.92
        face_px = rng.randrange(60, 180) if usable else rng.randrange(24, 48)
        base = {
            "schema": "face_expression", "schema_version": "1.0", "site_id": site, "camera_id": camera,
            "zone": None, "track_id": track_id,
            "box": {"x": round(rng.uniform(0, 0.7), 4), "y": round(rng.uniform(0, 0.5), 4),
                    "w": round(rng.uniform(0.08, 0.25), 4), "h": round(rng.uniform(0.12, 0.35), 4)},
            "quality": {"face_px": face_px, "sharpness": round(rng.uniform(80, 400), 1) if usable else 20.0,
                        "brightness": round(rng.uniform(70, 180), 1), "usable": usable},
            "probabilities": probabilities, "top_class": top, "valence": round(valence(probabilities), 4),
            "model": {"id": MODEL_ID, "version": self._model_version(start_ms)}, "edge_version": EDGE_VERSION,
        }
        for step in range(self.config.updates_per_visit):
            at = start_ms + duration * (step + 1) // (self.config.updates_per_visit + 1)
            self.events.append(dict(base, event_id=_ulid(at, rng), event_time_ms=at, kind="track_update"))
        end = start_ms + duration
        self.events.append(dict(base, event_id=_ulid(end, rng), event_time_ms=end, kind="track_end",
                                duration_ms=duration, frame_count=max(1, duration * 15 // 1000)))

    def _heartbeats(self, site: str, camera: str, day_ms: int, hours: range) -> None:
        rng = self.beats
        step = self.config.heartbeat_minutes * 60_000
        silent = [(i.start_ms, i.end_ms) for i in self.incidents
                  if i.kind == "silent_camera" and i.site_id == site and i.camera_id == camera]
        for at in range(day_ms + step, min(day_ms + DAY_MS + 1, self.end_ms), step):
            if any(start <= at < end for start, end in silent):
                continue
            open_now = (at - day_ms) // HOUR_MS in hours
            self.events.append({
                "schema": "camera_heartbeat", "schema_version": "1.0", "event_id": _ulid(at, rng),
                "site_id": site, "camera_id": camera, "event_time_ms": at, "fps": 15.0,
                "faces": rng.randrange(2, 40) if open_now else 0, "open_tracks": int(open_now),
                "spool_depth": 0, "dropped_count": 0, "model_version": self._model_version(at),
                "uptime_s": float((at - self.start_ms) // 1000), "edge_version": EDGE_VERSION,
            })


def generate_history(config: HistoryConfig) -> History:
    return _Generator(config).run()


def business_csv_lines(history: History) -> Iterator[str]:
    """The business-events file: header then one row per (time, site, kind, value)."""
    yield "time,site,kind,value"
    for time_ms, site, kind, value in history.business:
        stamp = datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        yield f"{stamp},{site},{kind},{value:g}"
