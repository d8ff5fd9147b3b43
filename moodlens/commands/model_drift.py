"""`moodlens model drift`: per camera and day, is the model still seeing what it was made for?

A day is the site's own local day, and a period is each site's own whole local days: "--since 7d" over
a café in Tokyo and one in Los Angeles judges the same seven dates at each, which are different instants;
the output says which days each site covers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from batch.drift_due import CATCH_UP_DAYS, SETTLE_MS
from edge.expression.classifier import DEFAULT_MODEL
from moodlens.commands.analytics_input import add_site_file_argument

if TYPE_CHECKING:
    from batch.drift import LocalDays
    from batch.drift_due import JudgedDays

_DURATION = re.compile(r"^(\d+)([hdw])$")


def add_drift_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drift = commands.add_parser(
        "drift", help="top-class mix, confidence and low-quality share per camera-day against the model's baseline",
        description="Reads face_expression from the lake. Drift is the population stability index (PSI) of a "
                    "camera-day's top-class shares against the same camera's own previous days (--own-days), or the "
                    "model card's baseline (FER2013 public test) where a camera has too little history, or a "
                    "reference period of the site's own: below 0.1 stable, 0.1-0.25 some change, above 0.25 DRIFT.")
    add_site_file_argument(drift)
    drift.add_argument("--lake", default=None, help="the lake (folder or s3://...; default: $MOODLENS_LAKE, the "
                                                    "site file's, else var/lake)")
    drift.add_argument("--site", default=None)
    drift.add_argument("--since", default=None,
                       help="period, in each site's own whole local days: 7d, 2w (48h: 2 days), or a local date "
                            "(default 7d)")
    drift.add_argument("--until", default=None,
                       help="end of the period (excluded), a local date at each site (default: after the last local "
                            "day that holds the site's latest face and is over)")
    drift.add_argument("--due", default=None, metavar="RECORD",
                       help=f"instead of a period: at each site, the local days ended at least {SETTLE_MS // 60_000} "
                            "minutes ago that RECORD (a JSON file or s3://bucket/key of each site's last judged day) "
                            f"does not hold yet, at most {CATCH_UP_DAYS}; then adds them to it (the hourly scheduled "
                            "run)")
    drift.add_argument("--card", type=Path, default=DEFAULT_MODEL.with_suffix(".json"),
                       help="model card JSON holding the drift_baseline (default: the shipped model's)")
    drift.add_argument("--reference", default=None, metavar="SINCE..UNTIL",
                       help="use the sites' own period (local dates, the second excluded) as the baseline instead, "
                            "e.g. 2026-10-01..2026-10-15")
    drift.add_argument("--own-days", type=int, default=14,
                       help="compare each camera-day with the camera's own previous N days (default 14); where they "
                            "hold under 5 x --min-faces usable faces, and with 0, with the model card's baseline")
    drift.add_argument("--min-faces", type=int, default=100, help="fewer usable faces in a camera-day: no PSI")
    drift.add_argument("--cloudwatch", action="store_true",
                       help="also put the PSI per site and camera as CloudWatch metric ModelDrift (and ModelDriftMax)")
    drift.add_argument("--endpoint-url", default=None)
    drift.add_argument("--exit-zero", action="store_true",
                       help="exit 0 even when a camera drifted (a scheduled run: the CloudWatch alarm tells)")
    drift.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    drift.add_argument("--dashboard-json", type=Path, default=None,
                       help="write each camera's latest day (PSI, verdict) for the live dashboard")
    drift.set_defaults(handler=run_drift)


def run_drift(args: argparse.Namespace) -> int:
    from batch.drift import (
        Baseline,
        camera_days,
        judge_days,
        latest_faces,
        local_day_rows,
        reference_baseline,
        site_zones,
    )
    from moodlens.commands.analytics_input import lake_connection, read_site_file

    if args.min_faces < 1:
        raise ValueError(f"--min-faces must be at least 1, got {args.min_faces}")
    if args.own_days < 0:
        raise ValueError(f"--own-days must be 0 or more, got {args.own_days}")
    if args.due and (args.since is not None or args.until is not None):
        raise ValueError("--due judges the days each site ended since its last judged one: "
                         "give neither --since nor --until")
    site = read_site_file(args)
    con = lake_connection(site.lake, site.sites(), site.min_tracks)
    latest, now_ms = latest_faces(con), now()
    sites = [args.site] if args.site else sorted(latest)
    if args.until is None:  # each site's period ends with its own latest face's day: without one, none
        sites = [s for s in sites if s in latest]
    if not sites:
        print("no faces in the lake" + (f" at site {args.site}" if args.site else ""))
        return 0
    zones = site_zones(con, sites)  # each site's days are its own
    record = None
    if args.due:
        periods, record = _due_periods(args.due, zones, now_ms, args.endpoint_url)
        if not periods:
            print(f"no local day due: each site's last ended day is judged ({args.due})")
            return 0
    else:
        periods = [site_days(s, zones[s], args.since or "7d", args.until, latest.get(s), now_ms) for s in sites]
    if args.reference:
        start, sep, end = args.reference.partition("..")
        if not sep:
            raise ValueError(f"--reference {args.reference!r}: give SINCE..UNTIL, e.g. 2026-10-01..2026-10-15")
        reference = [site_days(s, zones[s], start, end, None, now_ms, ("--reference",) * 2) for s in sites]
        baseline = reference_baseline(camera_days(local_day_rows(con, reference), _any_baseline(), 1), args.reference)
        own_days = 0  # the period the user chose is the yardstick for every day
    else:
        baseline, own_days = Baseline.from_card_file(args.card), args.own_days
    days = judge_days(con, periods, baseline, own_days, args.min_faces)
    covered = [f"site {p.site_id}: {p.describe()}" for p in periods]
    if not days:
        print("\n".join(["no faces in the lake for those days" + (f" at site {args.site}" if args.site else ""),
                         *covered]))
    elif args.json:  # stdout stays one camera-day per line; the days each site covers go to stderr
        print("\n".join(covered), file=sys.stderr)
        for d in days:
            print(json.dumps({"site_id": d.site_id, "camera_id": d.camera_id, "day": d.day,
                              "timezone": zones[d.site_id], "faces": d.faces,
                              "low_quality_share": round(d.low_quality_share, 4),
                              "mean_confidence": round(d.mean_confidence, 4),
                              "psi": None if d.psi is None else round(d.psi, 4), "verdict": d.verdict,
                              "baseline": d.baseline}))
    else:
        fallback = f"{baseline.source} (mean confidence {baseline.mean_confidence:.2f})"
        print(f"baseline: each camera's own previous {own_days} days; where a camera has less history, {fallback}"
              if own_days else f"baseline: {fallback}")
        print("\n".join(covered))
        print(f"{'site':<16} {'camera':<12} {'day':<10} {'faces':>6} {'low-q':>6} {'conf':>5} {'PSI':>6}  "
              f"{'verdict':<13}  against")
        for d in days:
            psi = "-" if d.psi is None else f"{d.psi:.3f}"
            print(f"{d.site_id:<16} {d.camera_id:<12} {d.day:<10} {d.faces:>6} {d.low_quality_share:>6.0%} "
                  f"{d.mean_confidence:>5.2f} {psi:>6}  {d.verdict:<13}  {d.baseline if d.psi is not None else ''}")
    if args.cloudwatch and days:
        put_drift_metrics(days, zones, args.endpoint_url)
    if args.dashboard_json is not None and days:
        write_dashboard_drift(args.dashboard_json, days)
    if record is not None:  # after the metrics: a run that dies before this judges the days again
        record.record({p.site_id: p.last for p in periods})
    return 1 if any(d.verdict == "DRIFT" for d in days) and not args.exit_zero else 0


def now() -> int:
    """The clock (epoch ms) that says which days are over."""
    return int(time.time() * 1000)


def _due_periods(location: str, zones: Mapping[str, str], now_ms: int,
                 endpoint_url: str | None) -> tuple[list[LocalDays], JudgedDays]:
    """`--due`: each site's days not judged yet, and the record that tells (told about days too old)."""
    from batch.drift_due import JudgedDays, due_days

    client = None
    if location.startswith("s3://"):
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint_url)
    record = JudgedDays(location, client)
    due = due_days(zones, record.read(), now_ms)
    for line in due.too_old:
        print(line, file=sys.stderr)
    return due.periods, record


def site_days(site: str, zone: str, since: str, until: str | None, latest_ms: int | None, now_ms: int,
              names: tuple[str, str] = ("--since", "--until")) -> LocalDays:
    """One site's period as whole local days in its own zone. `until` (excluded; a time within a day takes
    that day whole) is a local date or time at the site, or an instant with an offset; without it the
    period ends with the last local day that both holds the site's latest face (`latest_ms`) and is over
    by the clock.
    `since`: a number of local days back from there (7d, 2w; hours count as the days they reach: 48h is
    2 days), or a local date. `names`: the options the messages name."""
    from batch.drift import LocalDays

    local = ZoneInfo(zone)
    if until is not None:
        last = _local_date(until, names[1], local, end=True)
    elif latest_ms is None:
        raise ValueError(f"site {site}: no faces in the lake, so no last day: give --until")
    else:
        last = min(_date_at(latest_ms, local), _date_at(now_ms, local) - dt.timedelta(days=1))
    match = _DURATION.match(since.strip())
    if match:
        count, unit = int(match.group(1)), match.group(2)
        first = last - dt.timedelta(days=(count * 7 if unit == "w" else count if unit == "d" else -(-count // 24)) - 1)
    else:
        first = _local_date(since, names[0], local, end=False)
    if first > last:
        raise ValueError(f"{names[0]} {since} is not before the end of the period (site {site}: its last day is "
                         f"{last}, {zone})")
    return LocalDays(site, zone, first, last)


def _date_at(ms: int, zone: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, zone).date()


def _local_date(text: str, what: str, zone: ZoneInfo, end: bool) -> dt.date:
    """The local date at the site of a date or time given on the command line (without an offset: the
    site's wall clock); `end`: the last day of a period ending then (a midnight ends the day before)."""
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is neither a number of days like 7d/2w nor a date like "
                         "2026-11-01") from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(zone).replace(tzinfo=None)
    return (stamp - dt.timedelta(microseconds=1)).date() if end else stamp.date()


def put_drift_metrics(days: list[Any], zones: Mapping[str, str], endpoint_url: str | None, client: Any = None) -> int:
    """One datapoint per camera-day with a PSI (`MODEL_DRIFT`, dimensions site and camera), stamped at the
    instant its site's local day starts (`zones`: each site's zone; that stamp read in the site's zone is
    the day judged, whatever the zone), and the largest, stamped now and without dimensions
    (`MODEL_DRIFT_MAX`: what the fleet's alarm watches)."""
    import boto3

    from batch.drift import day_start_ms
    from stream.sinks.cloudwatch import CAMERA, MODEL_DRIFT, MODEL_DRIFT_MAX, SITE, CloudWatchPublisher, MetricDatum

    data = [MetricDatum(MODEL_DRIFT, ((SITE, d.site_id), (CAMERA, d.camera_id)), day_start_ms(d.day, zones[d.site_id]),
                        value=float(d.psi))
            for d in days if d.psi is not None]
    if data:
        data.append(MetricDatum(MODEL_DRIFT_MAX, (), int(dt.datetime.now(dt.UTC).timestamp() * 1000),
                                value=max(float(d.psi) for d in days if d.psi is not None)))
    publisher = CloudWatchPublisher(client or boto3.client("cloudwatch", endpoint_url=endpoint_url))
    result = publisher.publish(data)
    if not result.ok:
        raise RuntimeError(f"cloudwatch: {len(result.failed)} of {len(data)} drift metrics not taken: "
                           f"{result.errors[:1]}")
    return len(data)


def write_dashboard_drift(path: Path, days: list[Any]) -> None:
    """{camera: {day, psi, verdict}} for each camera's latest day: what the dashboard shows beside its health."""
    from locallog.files import write_atomically

    latest: dict[str, Any] = {}
    for d in days:  # sorted by (site, camera, day): the last one a camera has wins
        latest[d.camera_id] = {"day": d.day, "psi": None if d.psi is None else round(d.psi, 4), "verdict": d.verdict}
    write_atomically(path, json.dumps(latest, sort_keys=True).encode())


def _any_baseline() -> Any:
    from batch.drift import Baseline
    from schemas.expressions import EXPRESSIONS

    return Baseline(tuple(1 / len(EXPRESSIONS) for _ in EXPRESSIONS), 0.0, "uniform")
