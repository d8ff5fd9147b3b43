"""Model drift (PSI of the top-class mix) on stable vs planted synthetic camera-days.

    .venv/bin/python benchmarks/drift_psi.py [--days 7] [--faces 400] [--seed 11]

"stable" draws each day's top classes from the model card's own baseline; "planted" from a dim
camera's mix (three quarters neutral). Prints PSI min/median/max and the verdicts per camera.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch.drift import camera_days, query
from batch.table_schema import to_arrow_table
from schemas.contract import FACE_EXPRESSION
from tests.batch.drift_events import BASELINE, DAY_MS, day_of_faces
from tests.schemas.events import EVENT_TIME_MS

PLANTED = np.array([0.02, 0.0, 0.01, 0.15, 0.02, 0.05, 0.75])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--faces", type=int, default=400, help="usable faces per camera-day")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    events = [e for day in range(args.days) for e in day_of_faces(rng, day, "stable", BASELINE.shares, args.faces)]
    events += [e for day in range(args.days) for e in day_of_faces(rng, day, "planted", PLANTED, args.faces)]
    con = duckdb.connect()
    con.register("events", to_arrow_table(FACE_EXPRESSION, events))
    con.execute("CREATE TABLE face_expression AS SELECT * FROM events")
    days = camera_days(query(con, EVENT_TIME_MS - DAY_MS, EVENT_TIME_MS + (args.days + 1) * DAY_MS, None), BASELINE)
    for camera in ("stable", "planted"):
        values = [d.psi for d in days if d.camera_id == camera and d.psi is not None]
        verdicts = sorted({d.verdict for d in days if d.camera_id == camera})
        print(f"{camera:8} {len(values)} camera-days, PSI min {min(values):.3f} median {np.median(values):.3f} "
              f"max {max(values):.3f}, verdicts {', '.join(verdicts)}")


if __name__ == "__main__":
    main()
