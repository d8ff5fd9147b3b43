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

The people (sites, parties, moods, cameras) are written in `benchmarks.alarm_history_sites`; how the edge
reports them (tracks, face events, heartbeats, the classifier's confusion) in `benchmarks.alarm_history_edge`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.alarm_history_edge import (
    EDGE_RESTART_HOUR,
    EDGE_VERSION,
    FPS,
    HEARTBEAT_MS,
    MODEL_CARD,
    SPLIT_THREE,
    SPLIT_TWO,
    TRACK_ID_ALPHABET,
    UNUSABLE,
    Track,
    confusion_rows,
    face_events,
    heartbeats,
    model,
    probabilities,
    render,
    tracks,
)
from benchmarks.alarm_history_sites import (
    BASE_SHARES,
    CROWD_MINUTES,
    DAY_MOOD_SD,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    OVERLAP,
    PARTY_MOOD_SD,
    PERSON_MOOD_SD,
    PROFILES,
    SAME_AS_LEADER,
    SHOWINGS,
    SLOT_MS,
    START_MS,
    TILT,
    WEEKDAY_MOOD,
    Party,
    Sighting,
    SiteProfile,
    arrivals,
    closing_ms,
    crowd,
    expression,
    mood_of_day,
    party_size,
    poisson,
    sightings,
    slot_people,
)

__all__ = ["BASE_SHARES", "CROWD_MINUTES", "DAY_MOOD_SD", "DAY_MS", "EDGE_RESTART_HOUR", "EDGE_VERSION", "FPS",
           "HEARTBEAT_MS", "HOUR_MS", "MINUTE_MS", "MODEL_CARD", "OVERLAP", "PARTY_MOOD_SD", "PERSON_MOOD_SD",
           "PROFILES", "SAME_AS_LEADER", "SHOWINGS", "SLOT_MS", "SPLIT_THREE", "SPLIT_TWO", "START_MS", "TILT",
           "TRACK_ID_ALPHABET", "UNUSABLE", "WEEKDAY_MOOD", "Party", "Sighting", "SiteProfile", "Track", "arrivals",
           "closing_ms", "confusion_rows", "crowd", "expression", "face_events", "generate", "heartbeats", "model",
           "mood_of_day", "party_size", "poisson", "probabilities", "render", "sightings", "slot_people", "tracks"]


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
