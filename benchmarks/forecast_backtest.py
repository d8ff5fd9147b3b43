"""Forecast backtest error against the seasonal-naive baseline, per site, on the synthetic history.

    python benchmarks/forecast_backtest.py [--sites 3] [--days 60] [--seed 1]

Rolling-origin backtest (the last 3 weeks, each forecast from the data before it); the baseline is
"same hour last week"; both are scored on the same hours (open, >= 5 customers now and a week before).
Coverage of the 80%/95% intervals is out of sample: each scored week's intervals are calibrated on
the standardised errors of the weeks before it only (up to 3 more origins feed calibration); net
score on the scored hours, visits on every open hour. "calibrated on": net-score errors behind the
forecast's own intervals. Pin BLAS to one thread (OMP_NUM_THREADS=1) on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import duckdb

from batch.analytics.forecast import forecast_sites
from batch.analytics.source import Period, hourly_sentiment, register_events
from batch.analytics.synthetic import HistoryConfig, generate_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    history = generate_history(HistoryConfig(sites=args.sites, days=args.days, seed=args.seed, heartbeat_minutes=60))
    con = duckdb.connect()
    register_events(con, [e for e in history.events if e["schema"] == "face_expression"])
    hourly = hourly_sentiment(con, Period(history.start_ms, history.end_ms))
    started = time.perf_counter()
    results = forecast_sites(hourly, history.end_ms)
    elapsed = time.perf_counter() - started
    print(f"synthetic history: {args.sites} sites x {args.days} days, seed {args.seed}; forecast + backtest of every "
          f"site in {elapsed:.2f} s")
    print(f"{'site':<16}{'folds':>6}{'hours':>7}{'net MAE':>9}{'naive':>8}{'visits MAE':>12}{'naive':>8}"
          f"{'net 80%':>9}{'net 95%':>9}{'visits 80%':>12}{'visits 95%':>12}{'calibrated on':>15}")
    for r in results:
        b = r.backtest
        if r.status != "ok":
            print(f"{r.site:<16} {r.status}")
            continue
        print(f"{r.site:<16}{b.folds:>6}{b.hours:>7}{b.net_mae:>9.3f}{b.naive_net_mae:>8.3f}{b.visits_mae:>12.2f}"
              f"{b.naive_visits_mae:>8.2f}{b.coverage80:>9.0%}{b.coverage95:>9.0%}{b.visits_coverage80:>12.0%}"
              f"{b.visits_coverage95:>12.0%}{b.calibration_hours:>10} hours")


if __name__ == "__main__":
    main()
