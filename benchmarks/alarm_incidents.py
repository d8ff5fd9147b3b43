"""Planted incidents of several shapes against the alarm rules, side by side: caught, delay, false alarms, flaps.

    taskset -c 0 .venv/bin/python benchmarks/alarm_incidents.py [--days 28] [--seeds 1 2] [--scales 0.5 1 3]
        [--rules default windows legacy] [--histories synthetic independent]

Histories: `batch.analytics.synthetic` (a café, a cinema, a shop: opening hours, peaks, heartbeats,
its own bad evening and unplugged camera), one per seed and traffic level (``--scales``: visits x
0.5, 1, 3). Every customer's expression then goes through the shipped classifier's confusion
matrix (``edge/models/expression.json``, ``confusion_shipped``: rows true class, columns predicted),
one draw per track: the alarms see what the classifier would report, not the truth.
``--histories independent`` (reported separately; both by default): `benchmarks.alarm_histories`, four
sites written without that generator (a busy café, a cinema's crowds, a quiet shop, a two-service
bistro; two cameras seeing one customer, broken tracks, parties sharing a mood, the day's mood), so
that rules cannot be tuned to one generator; it has no incidents of its own.

Planted, per site and week from the second week (each on its own day, in open hours; the share of
the customers who would have looked happy that look sad or angry instead):

* ``busy hour``     the day's busiest open hour, 75% for 60 minutes
* ``sharp spell``   25 minutes inside the day's busiest hour, 90%
* ``slow decline``  two hours, the share rising from 0 to 90%
* ``quiet hour``    the day's quietest open hour (not the first or last), 75% for 60 minutes
* ``camera failure`` the site's first camera sends nothing (no faces, no heartbeats) for 90 minutes

Caught: a site alarm (``low_sentiment`` or ``sentiment_drop`` on the site, cameras pooled; for a
camera failure that camera's ``camera_silent``) raised during the incident or within one window
length after it, or already raised when it began (delay 0). Delay: minutes from the incident's start.
"Under way": raised before the incident ended. False alarms: site raises of the run without planted
incidents that do not overlap the generator's bad evening, per site-week. Flaps: raises (site or
camera) that clear within 10 minutes.

The ``oracle`` column (``--no-oracle`` leaves it out; `benchmarks.alarm_oracle`) is the honest ceiling:
a CUSUM that knows each incident's vote distributions before and during it, after the classifier's
confusion, started at zero when the incident starts, with its threshold from the same stated
false-alarm rate. Each table is given per traffic level and for all together: what a rule "catches"
at a traffic level where it is raised most of the day anyway is luck, not detection.

``--rules``: ``default`` (`AlarmConfig()` of the code imported: run with PYTHONPATH at another
checkout to measure its rules), ``windows`` (the default with the window drop rule), ``legacy``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batch.analytics.synthetic import HOUR_MS, HistoryConfig, generate_history, opening_hours, site_profiles
from benchmarks import alarm_histories
from benchmarks.alarm_behaviour import intervals, run_alarms
from benchmarks.alarm_oracle import oracle_delays
from schemas.expressions import EXPRESSIONS, valence
from schemas.types import SentimentAlarm
from stream import alarms as rules

DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60_000
FLAP_MS = 10 * MINUTE_MS
MODEL = Path(__file__).resolve().parent.parent / "edge" / "models" / "expression.json"
KINDS = ("busy hour", "sharp spell", "slow decline", "quiet hour", "camera failure")
HISTORIES = ("synthetic", "independent")


@dataclass(frozen=True)
class Planted:
    kind: str
    site: str
    camera: str | None
    start_ms: int
    end_ms: int
    peak: float = 0.0  # share of the happy turned sour at the worst
    ramp: bool = False  # the share rises linearly from 0 to ``peak``
    per_window: float = 0.0  # customers per 15 minutes in the incident (what the windows can see)

    def share(self, t: int) -> float:
        if not self.start_ms <= t < self.end_ms:
            return 0.0
        return self.peak * (t - self.start_ms) / (self.end_ms - self.start_ms) if self.ramp else self.peak


def confusion() -> list[list[float]]:
    # the shipped model's card (written by training/publish.py); read as data, the benchmark runs no model
    rows = json.loads(MODEL.read_text())["confusion_shipped"]
    return [[count / sum(row) for count in row] for row in rows]


def with_class(event: dict[str, Any], top: str) -> dict[str, Any]:
    if event["top_class"] == top:
        return event
    probabilities = dict(event["probabilities"])
    probabilities[event["top_class"]], probabilities[top] = probabilities[top], probabilities[event["top_class"]]
    return dict(event, probabilities=probabilities, top_class=top, valence=round(valence(probabilities), 4))


def visits_by_hour(events: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    return Counter((e["site_id"], e["event_time_ms"] // HOUR_MS) for e in events
                   if e["schema"] == "face_expression" and e["kind"] == "track_end")


@dataclass(frozen=True)
class Source:
    """One history to plant incidents in: its events, sites, span and its own incidents (never false alarms)."""

    events: list[dict[str, Any]]
    profiles: dict[str, Any]
    start_ms: int
    end_ms: int
    incidents: list[Any]


def history_named(name: str, sites: int, days: int, seed: int, scale: float) -> Source:
    if name == "independent":
        # without the generator's own confusion: `apply` adds the same model card's, after planting
        events, profiles = alarm_histories.generate(seed, days, scale, confusion=False)
        return Source(events, dict(profiles), alarm_histories.START_MS, alarm_histories.START_MS + days * DAY_MS, [])
    made = generate_history(HistoryConfig(sites=sites, days=days, seed=seed, visit_scale=scale))
    return Source(made.events, dict(site_profiles(sites)), made.start_ms, made.end_ms, made.incidents)


def open_hours(profile: Any, weekday: int) -> list[int]:
    """The independent sites name their hours (a bistro's two services); the synthetic's open one span."""
    if isinstance(profile, alarm_histories.SiteProfile):
        return profile.open_hours(weekday)
    return list(opening_hours(profile, weekday))


def plan(events: list[dict[str, Any]], profiles: dict[str, Any], start_ms: int, days: int, seed: int) -> list[Planted]:
    # bandit B311: seeded PRNG for reproducible benchmark data, not for secrets
    rng = random.Random(seed)  # nosec B311
    visits = visits_by_hour(events)
    planted: list[Planted] = []
    for site, profile in profiles.items():
        for week_start in range(7, days - 6, 7):
            open_days = [d for d in range(week_start, week_start + 7)
                         if len(open_hours(profile, datetime.fromtimestamp((start_ms + d * DAY_MS) / 1000,
                                                                              UTC).weekday())) >= 5]
            for kind, day in zip(KINDS, rng.sample(open_days, k=min(len(KINDS), len(open_days))), strict=False):
                weekday = datetime.fromtimestamp((start_ms + day * DAY_MS) / 1000, UTC).weekday()
                hours = open_hours(profile, weekday)[1:-1]
                midnight = start_ms + day * DAY_MS
                by_traffic = sorted(hours, key=lambda h: (visits[(site, (midnight + h * HOUR_MS) // HOUR_MS)], h))
                busiest, quietest = midnight + by_traffic[-1] * HOUR_MS, midnight + by_traffic[0] * HOUR_MS
                if kind == "busy hour":
                    planted.append(Planted(kind, site, None, busiest, busiest + HOUR_MS, 0.75))
                elif kind == "quiet hour":
                    planted.append(Planted(kind, site, None, quietest, quietest + HOUR_MS, 0.75))
                elif kind == "sharp spell":
                    begin = busiest + rng.randrange(0, 35) * MINUTE_MS
                    planted.append(Planted(kind, site, None, begin, begin + 25 * MINUTE_MS, 0.9))
                elif kind == "slow decline":
                    begin = midnight + rng.choice(hours[:-1]) * HOUR_MS
                    planted.append(Planted(kind, site, None, begin, begin + 2 * HOUR_MS, 0.9, ramp=True))
                else:
                    begin = midnight + rng.choice(hours) * HOUR_MS + rng.randrange(0, 60) * MINUTE_MS
                    planted.append(Planted(kind, site, profile.cameras[0], begin, begin + 90 * MINUTE_MS))
    return planted


def apply(events: list[dict[str, Any]], planted: list[Planted], matrix: list[list[float]] | None,
          seed: int) -> list[dict[str, Any]]:
    """The events with ``planted`` applied (sour customers, silent cameras), then the classifier's confusion."""
    by_site: dict[str, list[Planted]] = {}
    for p in planted:
        by_site.setdefault(p.site, []).append(p)
    out = []
    for original in events:
        event = original
        spells = by_site.get(event["site_id"], ())
        t = event["event_time_ms"]
        if any(p.camera == event.get("camera_id") and p.start_ms <= t < p.end_ms for p in spells if p.camera):
            continue  # the failed camera sends nothing
        if event["schema"] != "face_expression":
            out.append(event)
            continue
        # bandit B311: one seeded draw per customer, reproducible, not for secrets
        draw = random.Random(f"{seed}/{event['site_id']}/{event['camera_id']}/{event['track_id']}")  # nosec B311
        sour, turn, confuse = draw.random(), draw.choice(("sad", "angry")), draw.random()
        share = max((p.share(t) for p in spells if p.camera is None), default=0.0)
        if event["top_class"] == "happy" and sour < share:
            event = with_class(event, turn)
        if matrix is not None:
            row, acc = matrix[EXPRESSIONS.index(event["top_class"])], 0.0
            for name, chance in zip(EXPRESSIONS, row, strict=True):
                acc += chance
                if confuse < acc:
                    event = with_class(event, name)
                    break
        out.append(event)
    return out


def counted(planted: list[Planted], events: list[dict[str, Any]]) -> list[Planted]:
    """``planted`` with the customers per 15 minutes each incident had (visits that ended in it)."""
    ends: dict[str, list[int]] = {}
    for e in events:
        if e["schema"] == "face_expression" and e["kind"] == "track_end":
            ends.setdefault(e["site_id"], []).append(e["event_time_ms"])
    out = []
    for p in planted:
        inside = sum(1 for t in ends.get(p.site, ()) if p.start_ms <= t < p.end_ms)
        out.append(replace(p, per_window=inside * 15 * MINUTE_MS / (p.end_ms - p.start_ms)))
    return out


def delays(alarms: list[SentimentAlarm], planted: list[Planted], end_ms: int,
           window_ms: int) -> list[tuple[Planted, float | None, bool]]:
    """Per incident: (incident, minutes to the first fitting raise or None, raised while under way)."""
    spans = intervals(alarms, end_ms)
    out = []
    for p in planted:
        starts = []
        for (rule, site, camera), raised in spans.items():
            fits = (rule == "camera_silent" and camera == p.camera) if p.camera else (
                rule != "camera_silent" and not camera)
            if site != p.site or not fits:
                continue
            for a, b in raised:
                if a <= p.start_ms < b:
                    starts.append(p.start_ms)
                elif p.start_ms <= a < p.end_ms + window_ms:
                    starts.append(a)
        first = min(starts) if starts else None
        out.append((p, None if first is None else (first - p.start_ms) / MINUTE_MS,
                    first is not None and first < p.end_ms))
    return out


def false_and_flaps(alarms: list[SentimentAlarm], incidents: list[Any], end_ms: int,
                    window_ms: int) -> tuple[list[SentimentAlarm], int, int]:
    """(the false site raises, flaps, raises) of a run without planted incidents."""
    raises: dict[tuple[str, str, int], SentimentAlarm] = {
        (a["rule"], a["site_id"], a["event_time_ms"]): a
        for a in alarms if a["state"] == "ALARM" and not a["camera_id"]}
    false: list[SentimentAlarm] = []
    flaps = total = 0
    for (rule, site, camera), spans in intervals(alarms, end_ms).items():
        if rule == "camera_silent":
            continue
        for a, b in spans:
            total += 1
            flaps += b - a < FLAP_MS
            if not camera and not any(i.site_id == site and i.kind == "bad_evening"
                                      and i.start_ms - window_ms <= a < i.end_ms + window_ms for i in incidents):
                false.append(raises[(rule, site, a)])
    return false, flaps, total


def describe_false(alarms: list[SentimentAlarm], start_ms: int, label: str) -> None:
    """One line per false raise: what an operator needs to find its cause (``--list-false``)."""
    for a in sorted(alarms, key=lambda a: (a["site_id"], a["event_time_ms"])):
        t = a["event_time_ms"]
        when = datetime.fromtimestamp(t / 1000, UTC)
        print(f"  false {label}: {a['site_id']} {a['rule']} day {(t - start_ms) // DAY_MS} {when:%a %H:%M} UTC "
              f"value {a['value']} threshold {a['threshold']}: {a['reason']}")


def config_named(name: str) -> Any:
    if name == "legacy":
        return rules.LEGACY
    if name == "windows":
        return rules.WINDOWS
    return rules.AlarmConfig()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_table(found: dict[str, list[tuple[float, Planted, float | None, bool]]], columns: list[str], first: str,
                scale: float | None, label: str) -> None:
    print(f"\n{label}{'all traffic levels' if scale is None else f'traffic x{scale:g}'}:\n")
    print("| incident | customers / 15 min | " + " | ".join(
        f"{name}: caught (under way) | median / p90 delay" for name in columns) + " |")
    print("|---|---|" + "---|---|" * len(columns))
    for kind in KINDS:
        row = [kind]
        sizes = [p.per_window for s, p, _, _ in found[first] if p.kind == kind and scale in (None, s)]
        row.append(f"{min(sizes):.0f}-{max(sizes):.0f} (median {statistics.median(sizes):.0f})" if sizes else "-")
        for name in columns:
            mine = [(d, under) for s, p, d, under in found[name] if p.kind == kind and scale in (None, s)]
            hit = [d for d, _ in mine if d is not None]
            row.append(f"{len(hit)} of {len(mine)} ({sum(u for _, u in mine)})" if mine else "-")
            row.append(f"{statistics.median(hit):.0f} / {percentile(hit, 0.9):.0f} min" if hit else "-")
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--sites", type=int, default=3, help="sites of the synthetic histories (independent: 4)")
    parser.add_argument("--histories", nargs="+", choices=HISTORIES, default=list(HISTORIES),
                        help="synthetic: batch.analytics.synthetic; independent: benchmarks/alarm_histories.py")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.0, 3.0])
    parser.add_argument("--rules", nargs="+", choices=("default", "windows", "legacy"), default=["default", "windows"])
    parser.add_argument("--no-oracle", action="store_true", help="leave out the oracle row (`alarm_oracle`)")
    parser.add_argument("--list-false", action="store_true",
                        help="print each false site alarm (site, rule, day, weekday and hour, what it saw)")
    parser.add_argument("--no-confusion", action="store_true", help="votes as generated (no classifier noise)")
    args = parser.parse_args()
    matrix = None if args.no_confusion else confusion()
    for name in args.histories:
        report(args, name, matrix)


def report(args: argparse.Namespace, histories: str, matrix: list[list[float]] | None) -> None:
    label = "" if histories == "synthetic" else f"{histories} histories: "
    # rules and "oracle" -> (traffic scale, incident, delay in minutes or None, raised while under way)
    found: dict[str, list[tuple[float, Planted, float | None, bool]]] = {name: [] for name in args.rules}
    found["oracle"] = []
    needed: dict[str, list[int]] = {}  # kind -> customers the oracle saw before its raise
    false: dict[tuple[str, float], list[int]] = {}
    flaps: dict[str, list[int]] = {name: [0, 0] for name in args.rules}
    site_weeks: dict[float, float] = {}
    began = time.perf_counter()
    for scale in args.scales:
        for seed in args.seeds:
            history = history_named(histories, args.sites, args.days, seed, scale)
            profiles = history.profiles
            planted = plan(history.events, profiles, history.start_ms, args.days, seed)
            clean = apply(history.events, [], matrix, seed)
            dirty = apply(history.events, planted, matrix, seed)
            planted = counted(planted, dirty)
            site_weeks[scale] = site_weeks.get(scale, 0.0) + len(profiles) * args.days / 7
            if not args.no_oracle:
                for p, d, under, seen in oracle_delays(history.events, dirty, planted, matrix,
                                                       rules.AlarmConfig().false_alarms_per_month, 15 * MINUTE_MS):
                    found["oracle"].append((scale, p, d, under))
                    if d is not None:
                        needed.setdefault(p.kind, []).append(seen)
            for name in args.rules:
                config = config_named(name)
                window_ms = config.window_minutes * MINUTE_MS
                wrong, flapped, raises = false_and_flaps(run_alarms(clean, config), history.incidents,
                                                         history.end_ms, window_ms)
                if args.list_false:
                    describe_false(wrong, history.start_ms, f"{label}{name} x{scale:g} seed {seed}")
                found[name] += [(scale, *row) for row in delays(run_alarms(dirty, config), planted, history.end_ms,
                                                                 window_ms)]
                false.setdefault((name, scale), []).append(len(wrong))
                flaps[name][0] += flapped
                flaps[name][1] += raises
            print(f"{label}scale {scale:g} seed {seed}: {len(history.events):,} events, {len(planted)} incidents "
                  f"({time.perf_counter() - began:.0f} s)", flush=True)
    print(f"\n{label}{len(args.seeds)} seeds x traffic {', '.join(f'{s:g}' for s in args.scales)}; "
          f"{len(profiles)} sites x {args.days} days each; classifier confusion {'off' if matrix is None else 'on'}")
    columns = [*args.rules, *([] if args.no_oracle else ["oracle"])]
    for scale in [*args.scales, None] if len(args.scales) > 1 else [None]:
        print_table(found, columns, args.rules[0], scale, label)
    print(f"\n| {label}all traffic levels | | " + " | ".join(f"{name} | " for name in args.rules) + " |")
    print("|---|---|" + "---|---|" * len(args.rules))
    for scale in args.scales:
        print(f"| false site alarms per site-week, traffic x{scale:g} | | " + " | ".join(
            f"{sum(false[(name, scale)]) / site_weeks[scale]:.2f} | " for name in args.rules) + " |")
    print("| flaps (clear within 10 min) / raises, all runs without incidents | | " + " | ".join(
        f"{flaps[name][0]} / {flaps[name][1]} | " for name in args.rules) + " |")
    if needed:
        print("\noracle: customers seen from the start of an incident to its raise (median, p90): " + "; ".join(
            f"{kind} {statistics.median(n):.0f}, {percentile([float(x) for x in n], 0.9):.0f}"
            for kind, n in needed.items()))


if __name__ == "__main__":
    main()
