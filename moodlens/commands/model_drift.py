"""`moodlens model drift`: per camera and day, is the model still seeing what it was made for?"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.expression.classifier import DEFAULT_MODEL
from moodlens.commands.analytics_input import add_site_file_argument


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
    drift.add_argument("--since", default="7d",
                       help="period: 7d, 48h, 2w, or a date in the site's time zone (default 7d)")
    drift.add_argument("--until", default=None, help="end of the period (default: the end of the last day with data)")
    drift.add_argument("--card", type=Path, default=DEFAULT_MODEL.with_suffix(".json"),
                       help="model card JSON holding the drift_baseline (default: the shipped model's)")
    drift.add_argument("--reference", default=None, metavar="SINCE..UNTIL",
                       help="use the site's own period as the baseline instead, e.g. 2026-10-01..2026-10-15")
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
    from batch.analytics.source import latest_event_ms
    from batch.drift import Baseline, camera_days, judge, query, reference_baseline
    from moodlens.commands.analytics_input import lake_connection, read_site_file, site_zone
    from moodlens.commands.report import period

    if args.min_faces < 1:
        raise ValueError(f"--min-faces must be at least 1, got {args.min_faces}")
    if args.own_days < 0:
        raise ValueError(f"--own-days must be 0 or more, got {args.own_days}")
    site = read_site_file(args)
    con = lake_connection(site.lake, site.sites())
    zone = site_zone(con, site, args.site)  # each site's days are its local days; the period is in this zone
    since_ms, until_ms, _ = period(args.since, args.until, latest_event_ms(con), zone, whole_last_day=True)
    if args.reference:
        start, sep, end = args.reference.partition("..")
        if not sep:
            raise ValueError(f"--reference {args.reference!r}: give SINCE..UNTIL, e.g. 2026-10-01..2026-10-15")
        ref_since, ref_until, _ = period(start, end, None, zone)
        reference = camera_days(query(con, ref_since, ref_until, args.site), _any_baseline(), 1)
        baseline = reference_baseline(reference, args.reference)
        own_days = 0  # the period the user chose is the yardstick for every day
    else:
        baseline, own_days = Baseline.from_card_file(args.card), args.own_days
    days = judge(con, since_ms, until_ms, args.site, baseline, own_days, args.min_faces)
    if not days:
        print("no faces in the lake for that period" + (f" at site {args.site}" if args.site else ""))
        return 0
    if args.json:
        for d in days:
            print(json.dumps({"site_id": d.site_id, "camera_id": d.camera_id, "day": d.day, "faces": d.faces,
                              "low_quality_share": round(d.low_quality_share, 4),
                              "mean_confidence": round(d.mean_confidence, 4),
                              "psi": None if d.psi is None else round(d.psi, 4), "verdict": d.verdict,
                              "baseline": d.baseline}))
    else:
        fallback = f"{baseline.source} (mean confidence {baseline.mean_confidence:.2f})"
        print(f"baseline: each camera's own previous {own_days} days; where a camera has less history, {fallback}"
              if own_days else f"baseline: {fallback}")
        print(f"{'site':<16} {'camera':<12} {'day':<10} {'faces':>6} {'low-q':>6} {'conf':>5} {'PSI':>6}  "
              f"{'verdict':<13}  against")
        for d in days:
            psi = "-" if d.psi is None else f"{d.psi:.3f}"
            print(f"{d.site_id:<16} {d.camera_id:<12} {d.day:<10} {d.faces:>6} {d.low_quality_share:>6.0%} "
                  f"{d.mean_confidence:>5.2f} {psi:>6}  {d.verdict:<13}  {d.baseline if d.psi is not None else ''}")
    if args.cloudwatch:
        put_drift_metrics(days, args.endpoint_url)
    if args.dashboard_json is not None:
        write_dashboard_drift(args.dashboard_json, days)
    return 1 if any(d.verdict == "DRIFT" for d in days) and not args.exit_zero else 0


def put_drift_metrics(days: list[Any], endpoint_url: str | None, client: Any = None) -> int:
    """One datapoint per camera-day with a PSI (`MODEL_DRIFT`, dimensions site and camera), and the largest,
    stamped now and without dimensions (`MODEL_DRIFT_MAX`: what the fleet's alarm watches)."""
    import datetime as dt

    import boto3

    from stream.sinks.cloudwatch import CAMERA, MODEL_DRIFT, MODEL_DRIFT_MAX, SITE, CloudWatchPublisher, MetricDatum

    def day_ms(day: str) -> int:
        return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1000)

    data = [MetricDatum(MODEL_DRIFT, ((SITE, d.site_id), (CAMERA, d.camera_id)), day_ms(d.day), value=float(d.psi))
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
