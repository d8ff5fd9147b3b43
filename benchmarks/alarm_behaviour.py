"""How the sentiment alarms behave on a realistic synthetic history: what operations would live with.

    taskset -c 0 .venv/bin/python benchmarks/alarm_behaviour.py [--days 28] [--rules after|before|both]

The history is `batch.analytics.synthetic` (3 sites with opening hours, lunch/evening peaks, ~16-22
customers an hour, heartbeats day and night, its own bad evening at the cinema). It runs through
the stream's own per-site engines and alarm rules (`stream.host.sites.Sites`: what the embedded
runner and the AWS hosts run), once as generated ("clean") and once with planted incidents: in
``--incidents-per-week`` random open hours per site (from day 8, when the hour-of-week baselines
exist), 75% of the customers who would have looked happy look sad or angry instead: the hour's
net score falls by ~0.6, the size of the generator's own bad evening.

Per rule and site (``site`` = the site's own windows, ``cams`` = its cameras' windows together):
raises per day, median / p90 minutes raised, flaps (raises that clear within 10 minutes), raises
still open an hour after closing; then per planted incident whether a site alarm was raised during
it (or within one window length after) and how fast, and the false raises per site-week of the
clean run (raises not overlapping the generator's incidents). Planted hours are grouped by what the
windows can see: "bad and busy" (net score of the hour's customers <= -0.4, and at least
min_tracks customers per window on average: 20 an hour), "quiet" (fewer customers: most 15-minute
windows are "insufficient data" and no rule judges them) and "busy but barely sour" (the random
flips left the hour above -0.4).

``before`` is the rules as they were (fixed thresholds, no minimum hold, alarms left raised through
silence), reproduced with `stream.alarms.LEGACY`; ``after`` is today's default `AlarmConfig`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from batch.analytics.synthetic import HOUR_MS, HistoryConfig, generate_history, opening_hours, site_profiles
from schemas.expressions import NEGATIVE, POSITIVE, valence
from schemas.types import SentimentAlarm
from stream.alarms import LEGACY, AlarmConfig
from stream.engine import EngineConfig
from stream.host.sites import Applied, Sites

DAY_MS = 24 * HOUR_MS
FLAP_MS = 10 * 60_000
FLIP_SHARE = 0.75  # share of happy customers who turn sad or angry in a planted bad hour
BAD_NET = -0.4  # a planted hour whose customers came out at or below this net score is a real bad hour


@dataclass(frozen=True)
class Planted:
    site: str
    start_ms: int
    end_ms: int
    customers: int = 0  # visits that ended in the hour: what the windows can see of it
    net: float = 0.0  # the hour's net score as planted (a few planted hours came out barely sour)


def plant_bad_hours(events: list[dict[str, Any]], sites: dict[str, Any], start_ms: int, days: int,
                    per_week: int, seed: int) -> tuple[list[dict[str, Any]], list[Planted]]:
    """A copy of ``events`` with bad hours planted (open hours only, one per day at most per site)."""
    # bandit B311: seeded PRNG for reproducible benchmark data, not for secrets
    rng = random.Random(seed)  # nosec B311
    planted: list[Planted] = []
    for site, profile in sites.items():
        for week_start in range(7, days - 1, 7):
            chosen = rng.sample(range(week_start, min(week_start + 7, days)), k=min(per_week, days - week_start))
            for day in sorted(chosen):
                weekday = datetime.fromtimestamp((start_ms + day * DAY_MS) / 1000, UTC).weekday()
                hours = list(opening_hours(profile, weekday))[1:-1]  # not the first or last hour of the day
                if hours:
                    hour = rng.choice(hours)
                    begin = start_ms + day * DAY_MS + hour * HOUR_MS
                    planted.append(Planted(site, begin, begin + HOUR_MS))
    out = []
    for event in events:
        hit = event["schema"] == "face_expression" and event["top_class"] == "happy" and any(
            p.site == event["site_id"] and p.start_ms <= event["event_time_ms"] < p.end_ms for p in planted)
        track = f"{seed}/{event['site_id']}/{event.get('camera_id')}/{event.get('track_id')}"
        # bandit B311: one seeded decision per customer, reproducible, not for secrets
        draw = random.Random(track)  # nosec B311
        if hit and draw.random() < FLIP_SHARE:
            sour = draw.choice(("sad", "angry"))
            probabilities = dict(event["probabilities"])
            probabilities["happy"], probabilities[sour] = probabilities[sour], probabilities["happy"]
            out.append(dict(event, probabilities=probabilities, top_class=sour,
                            valence=round(valence(probabilities), 4)))
        else:
            out.append(event)
    seen: dict[Planted, dict[tuple[str, str], str]] = {p: {} for p in planted}
    for event in out:
        if event["schema"] == "face_expression" and event["kind"] == "track_end":
            for p in planted:
                if p.site == event["site_id"] and p.start_ms <= event["event_time_ms"] < p.end_ms:
                    seen[p][(event["camera_id"], event["track_id"])] = event["top_class"]
    counted = []
    for p in planted:
        votes = list(seen[p].values())
        net = (sum(v in POSITIVE for v in votes) - sum(v in NEGATIVE for v in votes)) / max(len(votes), 1)
        counted.append(Planted(p.site, p.start_ms, p.end_ms, len(votes), round(net, 2)))
    return out, sorted(counted, key=lambda p: (p.start_ms, p.site))


def run_alarms(events: list[dict[str, Any]], config: AlarmConfig, batch: int = 5000) -> list[SentimentAlarm]:
    sites = Sites(EngineConfig(window_minutes=(config.window_minutes,), min_tracks=config.min_tracks), config,
                  clock=lambda: 0.0)
    alarms: list[SentimentAlarm] = []
    for i in range(0, len(events), batch):
        alarms += sites.apply([Applied(e, "log", i + j) for j, e in enumerate(events[i:i + batch])]).alarms
    return alarms


def intervals(alarms: Iterable[SentimentAlarm], end_ms: int) -> dict[tuple[str, str, str], list[tuple[int, int]]]:
    """(rule, site, site|cams|camera) -> [(raised, cleared or end of data)]."""
    opened: dict[tuple[str, str, str], int] = {}
    out: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for a in alarms:
        key: tuple[str, str, str] = (a["rule"], a["site_id"], a["camera_id"] or "")
        if a["state"] == "ALARM":
            opened[key] = a["event_time_ms"]
        elif key in opened:
            out.setdefault(key, []).append((opened.pop(key), a["event_time_ms"]))
    for key, start in opened.items():
        out.setdefault(key, []).append((start, end_ms))
    return out


def closed_overlap_ms(site_profile: Any, start_ms: int, raised: int, cleared: int) -> int:
    total = 0
    hour = raised // HOUR_MS * HOUR_MS
    while hour < cleared:
        day = (hour - start_ms) // DAY_MS
        weekday = datetime.fromtimestamp((start_ms + day * DAY_MS) / 1000, UTC).weekday()
        if (hour % DAY_MS) // HOUR_MS not in opening_hours(site_profile, weekday):
            total += min(cleared, hour + HOUR_MS) - max(raised, hour)
        hour += HOUR_MS
    return total


def behaviour(name: str, alarms: list[SentimentAlarm], profiles: dict[str, Any], start_ms: int, end_ms: int,
              days: float) -> None:
    by_key = intervals(alarms, end_ms)
    grouped: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for (rule, site, camera), spans in by_key.items():
        if rule != "camera_silent":
            grouped.setdefault((rule, site, "cams" if camera else "site"), []).extend(spans)
    print(f"\n[{name}] rule            site          level  raises/day  median min  p90 min  flaps  "
          f"open 1 h+ into closed hours")
    for (rule, site, level), spans in sorted(grouped.items()):
        minutes = sorted((b - a) / 60_000 for a, b in spans)
        flaps = sum(1 for a, b in spans if b - a < FLAP_MS)
        overnight = sum(1 for a, b in spans if closed_overlap_ms(profiles[site], start_ms, a, b) >= HOUR_MS)
        p90 = minutes[min(len(minutes) - 1, int(0.9 * len(minutes)))]
        print(f"[{name}] {rule:15} {site:13} {level:5} {len(spans) / days:10.2f} {statistics.median(minutes):11.1f} "
              f"{p90:8.1f} {flaps / len(spans):6.0%}  {overnight}")
    if not grouped:
        print(f"[{name}] no sentiment alarms at all")


def site_raises(alarms: Iterable[SentimentAlarm]) -> list[tuple[str, int, str]]:
    return [(a["site_id"], a["event_time_ms"], a["rule"]) for a in alarms
            if a["state"] == "ALARM" and a["camera_id"] is None and a["rule"] != "camera_silent"]


def detection(name: str, alarms: list[SentimentAlarm], planted: list[Planted], config: AlarmConfig,
              end_ms: int, busy: int) -> list[float | None]:
    """Per planted hour: minutes from its start to the first site alarm raised (0: already raised), or None."""
    spans = intervals(alarms, end_ms)
    slack = config.window_minutes * 60_000
    delays: list[float | None] = []
    for p in planted:
        starts = []
        for (rule, site, camera), raised in spans.items():
            if site != p.site or camera or rule == "camera_silent":
                continue
            for a, b in raised:
                if a <= p.start_ms < b:
                    starts.append(p.start_ms)  # already raised when it began
                elif p.start_ms <= a < p.end_ms + slack:
                    starts.append(a)
        delays.append((min(starts) - p.start_ms) / 60_000 if starts else None)
    groups = (("bad and busy", lambda p: p.customers >= busy and p.net <= BAD_NET),
              ("quiet (fewer customers)", lambda p: p.customers < busy),
              ("busy but barely sour", lambda p: p.customers >= busy and p.net > BAD_NET))
    for label, chosen in groups:
        found = [d for p, d in zip(planted, delays, strict=True) if chosen(p) and d is not None]
        total = sum(1 for p in planted if chosen(p))
        summary = f"median {statistics.median(found):.0f} min, max {max(found):.0f} min" if found else "-"
        print(f"[{name}] planted bad hours, {label}: raised {len(found)} of {total}; delay from the hour's start: "
              f"{summary}")
    return delays


def false_raises(name: str, alarms: list[SentimentAlarm], incidents: list[Any], config: AlarmConfig,
                 sites: int, days: float) -> None:
    slack = config.window_minutes * 60_000
    false = [(site, t, rule) for site, t, rule in site_raises(alarms)
             if not any(i.site_id == site and i.kind == "bad_evening" and i.start_ms <= t < i.end_ms + slack
                        for i in incidents)]
    rules = sorted({rule for _, _, rule in false})
    detail = ", ".join(f"{r} {sum(1 for f in false if f[2] == r) / (sites * days / 7):.2f}" for r in rules)
    print(f"[{name}] clean data: false site raises per site-week {len(false) / (sites * days / 7):.2f}"
          + (f" ({detail})" if detail else ""))
    bad = [i for i in incidents if i.kind == "bad_evening"]
    for i in bad:
        hit = [t for site, t, _ in site_raises(alarms) if site == i.site_id and i.start_ms <= t < i.end_ms + slack]
        when = f"raised after {(min(hit) - i.start_ms) / 60_000:.0f} min" if hit else "NOT raised"
        print(f"[{name}] the generator's bad evening ({i.site_id}, 4 h): {when}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--incidents-per-week", type=int, default=2)
    parser.add_argument("--rules", choices=("after", "before", "both"), default="both")
    args = parser.parse_args()
    began = time.perf_counter()
    history = generate_history(HistoryConfig(sites=args.sites, days=args.days, seed=args.seed))
    profiles = dict(site_profiles(args.sites))
    planted_events, planted = plant_bad_hours(history.events, profiles, history.start_ms, args.days,
                                              args.incidents_per_week, args.seed)
    print(f"{len(history.events):,} events, {args.sites} sites x {args.days} days, {len(planted)} planted bad hours "
          f"(generated in {time.perf_counter() - began:.1f} s)")
    configs = {"before": LEGACY, "after": AlarmConfig()}
    for name in (("before", "after") if args.rules == "both" else (args.rules,)):
        config = configs[name]
        t = time.perf_counter()
        clean = run_alarms(history.events, config)
        dirty = run_alarms(planted_events, config)
        behaviour(name, clean, profiles, history.start_ms, history.end_ms, args.days)
        false_raises(name, clean, history.incidents, config, args.sites, args.days)
        busy = config.min_tracks * 60 // config.window_minutes  # enough customers in every window of the hour
        detection(name, dirty, planted, config, history.end_ms, busy)
        print(f"[{name}] ({time.perf_counter() - t:.1f} s for both runs)")


if __name__ == "__main__":
    main()
