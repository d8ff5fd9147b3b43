"""`moodlens demo history`: weeks of realistic synthetic events for several sites (see
`batch.analytics.synthetic`), written where the stream and the lake read them:

    OUT/log/            the embedded event log (`moodlens stream run --log OUT/log`, `batch compact`)
    OUT/business.csv    business events (time, site, kind, value) for `moodlens batch drivers`
    OUT/truth.json      what was planted: effects, incidents, sites and cameras
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

CHUNK = 20_000


def add_history_command(demo_subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `history` under `moodlens demo`; plain `moodlens demo` is unchanged."""
    history = demo_subcommands.add_parser("history", help="write weeks of synthetic events for several sites")
    history.add_argument("--sites", type=int, default=3, help="how many sites, each with its cameras (default 3)")
    history.add_argument("--days", type=int, default=60, help="how many days of history (default 60)")
    history.add_argument("--seed", type=int, default=1,
                         help="random seed: the same seed writes the same history (default 1)")
    history.add_argument("--start", type=date.fromisoformat, default=date(2026, 9, 7),
                         help="first day, UTC (default 2026-09-07)")
    history.add_argument("--end", default=None,
                         help="instead of --start: the day after the last one, a date or 'today' (UTC), so the "
                              "history runs up to now, e.g. to sit beside live demo events")
    history.add_argument("--out", type=Path, default=Path("var/history"),
                         help="output folder (its log and stream state are replaced)")
    history.set_defaults(handler=run_history)


def run_history(args: argparse.Namespace) -> int:
    from batch.analytics.synthetic import PLANTED_EFFECTS, HistoryConfig, business_csv_lines, generate_history
    from locallog import LocalLog

    started = time.perf_counter()
    start: date = args.start
    if args.end is not None:
        try:
            end = datetime.now(UTC).date() if args.end == "today" else date.fromisoformat(args.end)
        except ValueError:
            raise ValueError(f"--end: {args.end!r} is neither 'today' nor a date like 2026-11-30") from None
        start = end - timedelta(days=args.days)
    history = generate_history(HistoryConfig(sites=args.sites, days=args.days, seed=args.seed, start=start))
    out: Path = args.out
    # The stream state beside the log (the `next:` command's --state) holds the old log's offset: kept,
    # the next stream run would skip the new log's first records and keep the old history's windows.
    for derived in ("log", "stream"):
        shutil.rmtree(out / derived, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    with LocalLog(out / "log") as log:
        for first in range(0, len(history.events), CHUNK):
            log.append([json.dumps(e, separators=(",", ":")).encode() for e in history.events[first:first + CHUNK]])
    (out / "business.csv").write_text("\n".join(business_csv_lines(history)) + "\n", encoding="utf-8")
    truth = {"planted_effects_on_net_score": PLANTED_EFFECTS, "incidents": [asdict(i) for i in history.incidents],
             "sites": {s: list(c) for s, c in history.sites.items()}, "start_ms": history.start_ms,
             "end_ms": history.end_ms, "seed": args.seed}
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    faces = sum(1 for e in history.events if e["schema"] == "face_expression" and e["kind"] == "track_end")
    print(f"{len(history.events)} events ({faces} visits) for {len(history.sites)} sites over {args.days} days "
          f"-> {out / 'log'}; {len(history.business)} business events -> {out / 'business.csv'}; "
          f"planted truth -> {out / 'truth.json'} ({time.perf_counter() - started:.1f} s)")
    print(f"next: moodlens stream run --log {out / 'log'} --state {out / 'stream'} --once --flush --no-time-check")
    return 0
