"""`moodlens batch forecast` and `moodlens batch drivers`: the analyst's predictive side.

`add_analytics_commands(batch_subparsers)` adds both under the `batch` group (`moodlens.commands.batch`).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moodlens.commands.analytics_input import add_input_arguments, connect, site_zones

DAY_MS = 86_400_000


def add_analytics_commands(batch: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    forecast = batch.add_parser("forecast", help="next 7 days' net score and visits per site and hour, "
                                                 "beside a backtest and a seasonal-naive baseline")
    add_input_arguments(forecast)
    forecast.add_argument("--site", default=None, help="one site (default: every site)")
    forecast.add_argument("--hourly", action="store_true", help="print every open hour, not a line per day")
    forecast.add_argument("--csv", type=Path, default=None, help="write the hourly forecast to this CSV file")
    forecast.add_argument("--dashboard-json", type=Path, default=None,
                          help="write [[hour_ms, net], ...] of one site's open hours for the live dashboard "
                               "(needs --site when the lake holds several)")
    forecast.set_defaults(handler=run_forecast)
    drivers = batch.add_parser("drivers", help="each business event kind's association with sentiment")
    add_input_arguments(drivers)
    drivers.add_argument("--events", type=Path, required=True, help="business events CSV: time,site,kind,value")
    drivers.add_argument("--csv", type=Path, default=None, help="also write the estimates to this CSV file")
    drivers.set_defaults(handler=run_drivers)


def _time(ms: float, timezone: str = "UTC") -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(timezone)).strftime("%a %Y-%m-%d %H:%M")


def check_site(site: str | None, known: list[str]) -> None:
    if site is not None and site not in known:
        raise ValueError(f"unknown site {site!r}; known sites: {', '.join(known) or '(none: the history is empty)'}")


def run_forecast(args: argparse.Namespace) -> int:
    import pandas as pd

    from batch.analytics.forecast import ForecastConfig, forecast_sites, history_end_ms
    from batch.analytics.source import Period, hourly_sentiment, known_sites, latest_event_ms

    con = connect(args)
    check_site(args.site, known_sites(con))
    latest = latest_event_ms(con)
    if latest is None:
        raise ValueError(f"no visits in {args.log or args.site_file.lake or 'the lake'}: nothing to forecast from")
    tz = args.timezone
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    end_ms = history_end_ms(latest, now_ms)
    hourly = hourly_sentiment(con, Period(0, end_ms, args.site))
    zones = {} if args.site is not None else site_zones(con)  # with --site, tz is already that site's
    results = forecast_sites(hourly, end_ms, ForecastConfig(min_tracks=args.min_tracks, timezone=tz), zones)
    if now_ms - end_ms > DAY_MS:
        print(f"STALE: the history ends {_time(end_ms, tz)} ({tz}), {(now_ms - end_ms) // DAY_MS} days ago; "
              f"the 'next 7 days' below are the 7 days after that, not the coming week")
    own_zones = any(zone != tz for zone in zones.values())
    where = "; each site's lines below in its own time" if own_zones else ", the site's local time"
    print(f"history up to {_time(end_ms, tz)} ({tz}{where}); the forecast starts there" + (
        " (the latest event's hour is still filling, so it is left out)" if end_ms <= latest else ""))
    frames = []
    for result in results:
        zone = zones.get(result.site, tz)
        print(f"\n== {result.site}: {result.history_days} days of history"
              + (f"; times in {zone}" if zone != tz else ""))
        if result.status != "ok":
            print(f"   no forecast: {result.status}")
            continue
        b = result.backtest
        origins = f"{b.folds} rolling weekly origin{'' if b.folds == 1 else 's'}"
        print(f"   backtest, {origins}, {b.hours} rated hours: net score MAE {b.net_mae:.3f} "
              f"(seasonal-naive, same hour last week: {b.naive_net_mae:.3f}); visits MAE {b.visits_mae:.1f} "
              f"(naive {b.naive_visits_mae:.1f}); out-of-sample interval coverage, net score 80%: "
              f"{b.coverage80:.0%}, 95%: {b.coverage95:.0%}; visits 80%: {b.visits_coverage80:.0%}, "
              f"95%: {b.visits_coverage95:.0%}; "
              + (f"intervals calibrated on {b.calibration_hours} backtest hours" if b.calibration_hours
                 else "intervals from t-quantiles (too few backtest hours to calibrate)"))
        for row in result.anomalies.itertuples():
            if row.measure == "net_score":
                what = f"net score {row.actual:+.2f}, expected {row.expected:+.2f}"
            else:
                what = f"{row.actual:.0f} visits, expected {row.expected:.0f}"
            print(f"   anomalous hour: {_time(row.hour_ms, zone)} {what} (z {row.z:+.1f})")
        table = result.forecast[result.forecast["open"]]
        frames.append(result.forecast)
        if args.hourly:
            for r in table.itertuples():
                print(f"   {_time(r.hour_ms, zone)}  visits {r.visits:5.1f} "
                      f"[80% {r.visits_lo80:.0f}-{r.visits_hi80:.0f}, "
                      f"95% {r.visits_lo95:.0f}-{r.visits_hi95:.0f}]  net {r.net:+.2f} [80% {r.net_lo80:+.2f},"
                      f"{r.net_hi80:+.2f}; 95% {r.net_lo95:+.2f},{r.net_hi95:+.2f}]")
        else:
            from batch.report.data import local_day

            days = table.assign(day=local_day(table["hour_ms"], zone)).groupby("day")
            for _, rows in days:
                weighted = float((rows["net"] * rows["visits"]).sum() / rows["visits"].sum())
                busiest = rows.loc[rows["visits"].idxmax()]
                first = int(rows["hour_ms"].min())
                starts = _time(end_ms, zone)
                same_day = starts[:14] == _time(first, zone)[:14]
                part = f" from {starts[-5:]}" if same_day and starts[-5:] != "00:00" else ""
                print(f"   {_time(first, zone)[:14]}{part}  visits {rows['visits'].sum():6.0f}  "
                      f"net score {weighted:+.2f}  "
                      f"busiest {_time(busiest['hour_ms'], zone)[-5:]} ({busiest['visits']:.0f} visits, net "
                      f"{busiest['net']:+.2f} [95% {busiest['net_lo95']:+.2f},{busiest['net_hi95']:+.2f}])")
    if args.csv is not None and frames:
        pd.concat(frames).to_csv(args.csv, index=False)
        print(f"\nhourly forecast with intervals -> {args.csv}")
    if args.dashboard_json is not None:
        write_dashboard_forecast(args.dashboard_json, results, args.site)
    return 0


def run_drivers(args: argparse.Namespace) -> int:
    import sys

    from batch.analytics.drivers import drivers_frame, estimate_drivers, p_text, read_business_events, zone_mismatch
    from batch.analytics.source import Period, hourly_sentiment

    business = read_business_events(args.events)
    con = connect(args)
    if (warning := zone_mismatch(business, args.timezone, str(args.events))) is not None:
        print(f"warning: {warning}", file=sys.stderr)
    result = estimate_drivers(hourly_sentiment(con, Period(0, 1 << 47)), business, args.min_tracks, args.timezone)
    print(f"{result.hours} hours with at least {args.min_tracks} customers at {len(result.sites)} site(s); "
          f"{result.unmatched_rows} business rows fell in hours without enough customers")
    print(f"{'kind':<20} {'effect on net score':>20}  {'95% interval':>18}  {'p':>6}  hours with it")
    for d in result.drivers:
        if d.effect is None or d.low is None or d.high is None or d.p_value is None:
            print(f"{d.kind:<20} {'—':>20}  {'':>18}  {'':>6}  {d.hours_with}  ({d.note})")
            continue
        print(f"{d.kind:<20} {d.effect:>+20.3f}  [{d.low:+.3f}, {d.high:+.3f}]  {p_text(d.p_value):>6}  {d.hours_with}")
    print(f"\n{result.caveat}")
    if args.csv is not None:
        drivers_frame(result).to_csv(args.csv, index=False)
    return 0


def write_dashboard_forecast(path: Path, results: list[Any], site: str | None) -> None:
    """The dashboard's forecast line: [[hour_ms, net], ...] for one site's open hours ([] without one)."""
    import json

    from locallog.files import write_atomically

    chosen = [r for r in results if site is None or r.site == site]
    if len(chosen) > 1:
        raise ValueError(f"--dashboard-json: the lake holds {len(chosen)} sites; name one with --site")
    points: list[list[float]] = []
    if chosen and chosen[0].status == "ok":
        table = chosen[0].forecast
        points = [[int(r.hour_ms), round(float(r.net), 4)] for r in table[table["open"]].itertuples()]
    write_atomically(path, json.dumps(points).encode())
    print(f"dashboard forecast ({len(points)} hours) -> {path}")
