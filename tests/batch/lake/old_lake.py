"""Lakes written by the real compaction of the last commit before the lake's time columns were renamed.

That commit's `batch`, `schemas` and `locallog` packages are taken from git (`git archive`) into a
folder, with this checkout's built C extension (the validator's program did not change), and its
`compact` runs in a subprocess: the files, schemas and partition specs are exactly what a box or
the AWS compaction task wrote before upgrading.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess  # nosec B404: git and this Python, fixed arguments
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.catalog import Catalog

from batch.lake.tables import existing_tables
from schemas.ids import new_event_id
from tests.batch.lakes import DAY_MS, HOUR_MS, T0, update, visit, write_jsonl
from tests.schemas.events import camera_heartbeat, sentiment_alarm, sentiment_window

OLD_COMMIT = "96debd4"
REPO = Path(__file__).resolve().parents[3]

_COMPACT = """
import json, sys
from pathlib import Path
from batch.compact.run import compact
from batch.compact.sources import Source, from_directory
from batch.lake.tables import LakeConfig, open_catalog
where, raw = json.loads(sys.argv[1]), Path(sys.argv[2])
config = LakeConfig(properties=tuple(sorted(where.items()))) if isinstance(where, dict) else \
    LakeConfig(root=Path(where))
errors = []
result = compact(open_catalog(config), [Source(str(raw), from_directory(raw, errors), errors)])
assert not result.errors, result.errors
print(json.dumps(result.written))
"""


def old_code(folder: Path) -> Path:
    """The old commit's packages in `folder` (skips the test where git or that commit is missing)."""
    target = folder / "old-code"
    if (target / "batch").is_dir():
        return target
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", OLD_COMMIT,  # nosec B603 B607
                                  "batch", "schemas", "locallog"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"needs git and commit {OLD_COMMIT} of this repository ({error})")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    for built in (REPO / "schemas").glob("_record*.so"):
        shutil.copy(built, target / "schemas" / built.name)
    return target


def write_old_lake(folder: Path, events: Iterable[dict[str, Any]], lake: Path | dict[str, str]) -> dict[str, int]:
    """Compacts `events` with the old commit's code into `lake` (a folder, or Glue/S3 catalog properties);
    returns the rows it wrote per table."""
    code = old_code(folder)
    raw = write_jsonl(folder / f"raw-{len(list(folder.glob('raw-*')))}" / "events.jsonl", events).parent
    where = json.dumps(str(lake) if isinstance(lake, Path) else lake)
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-c", _COMPACT, where, str(raw)], cwd=code, env=env,  # nosec B603
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    written: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return written


# Every table's instants as they were stored (old name) and as they must come out (new name).
INSTANTS = {"face_expression": {"event_time_ms": "event_time"}, "camera_heartbeat": {"event_time_ms": "event_time"},
            "sentiment_alarm": {"event_time_ms": "event_time"},
            "sentiment_window": {"event_time_ms": "event_time", "window_start_ms": "window_start",
                                 "window_end_ms": "window_end"}}


def box_events(start: int = T0, salt: str = "a") -> list[dict[str, Any]]:
    """What a box writes over two days at two sites: visits, track updates, heartbeats, windows, alarms."""
    out: list[dict[str, Any]] = []
    for site in ("cafe-1", "shop-2"):
        for n in range(30):
            at = start + (n % 2) * DAY_MS + (8 + n % 10) * HOUR_MS + n * 7_001
            out.append(visit(at, site=site, track=f"{salt}{n}"))
            out.append(update(at - 1_500, site=site, track_id=f"{salt}{n}"))
        for n in range(12):
            at = start + n * 4 * HOUR_MS
            out.append(camera_heartbeat(event_id=new_event_id(at), site_id=site, event_time_ms=at))
            for minutes in (5, 15):
                out.append(sentiment_window(event_id=new_event_id(at), site_id=site,
                                            event_time_ms=at, window_start_ms=at - minutes * 60_000,
                                            window_end_ms=at, window_minutes=minutes))
        out.append(sentiment_alarm(event_id=new_event_id(start + HOUR_MS), site_id=site,
                                   event_time_ms=start + HOUR_MS))
    return out


def census(catalog: Catalog) -> dict[str, dict[str, int]]:
    """Per table: its rows and, per instant, the sum of its epoch microseconds (whatever it is called and
    however it is stored: integer milliseconds or a timestamp)."""
    out = {}
    for name, table in existing_tables(catalog).items():
        if name not in INSTANTS:
            continue
        rows = table.scan().to_arrow()
        sums = {"rows": rows.num_rows}
        for old, new in INSTANTS[name].items():
            column = rows.column(new if new in rows.column_names else old)
            micros = column.cast(pa.int64()) if pa.types.is_timestamp(column.type) else pc.multiply(column, 1000)
            sums[new] = int(pc.sum(micros).as_py())
        out[name] = sums
    return out
