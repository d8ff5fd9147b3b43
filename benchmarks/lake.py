"""Lake figures: compaction events/s and peak memory; hourly SQL over a month; pruning.

    taskset -c 0 .venv/bin/python benchmarks/lake.py compact [--events 1000000] [--plain | --log] [--per-file N]
    .venv/bin/python benchmarks/lake.py concurrent [--events 50000] [--trials 5] [--bypass-lock]
    .venv/bin/python benchmarks/lake.py query [--events 10000000] [--days 30] [--sites 3] [--threads 2]
    .venv/bin/python benchmarks/lake.py migrate [--events 2000000] [--days 30] [--sites 3]

``compact`` writes realistic edge events (track_update once a second per face, a track_end per
visit, a heartbeat per camera per minute; ~565 bytes each, ids and times unique) as gzip JSON
Lines files (plain with ``--plain``; into the embedded log with ``--log``, the default input of
`moodlens batch compact`), then times `batch.compact.run.compact` from the files to
committed Iceberg tables: reading, gunzip, decoding and every contract check, dedup against the
table, Parquet writing and the commit, in a fresh process. Run it under `taskset -c 0` for the
one-core figure; events per CPU second is the figure (wall time depends on the machine's load).
Peak RSS is the compacting process's. Where the time goes: ``benchmarks/lake_parsers.py``.

``concurrent`` starts two `moodlens batch compact` processes on one raw file and one lake,
``--gap`` seconds apart, ``--trials`` times, and counts the rows doubled (count(*) - count(DISTINCT
event_id)); ``--bypass-lock`` runs the compaction without the lake's lock, so the commit-time
dedup alone is what keeps the rows single.

``query`` builds a face_expression table of ``--events`` rows over ``--days`` days and
``--sites`` sites directly from Arrow (one commit per day, so one file per partition, as
compaction + maintain leave it), then times the hourly-sentiment-by-site view as `moodlens sql`
runs it (plan with pyiceberg, DuckDB over the planned files), and a one-day, one-site query's
files and bytes read against the whole table's.

``migrate`` builds the same face_expression table as the lake wrote it before its time columns
were renamed (`event_time_ms`, partitioned by day(event_time_ms)), then times its migration
(`batch.lake.migrate`: every row read and rewritten under the new names in one commit), with the
process's peak RSS, and checks the rows and the sum of the times before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batch.compact.run import compact
from batch.compact.sources import Source, SourceError, from_directory, from_log
from batch.lake.tables import LakeConfig, ensure_tables, lake_schema, open_catalog, sites_frame
from batch.sql.runner import run_query
from locallog import LocalLog
from schemas.contract import CONTRACTS
from schemas.expressions import EXPRESSIONS, VALENCE

T0_MS = 1_790_035_200_000  # 2026-09-22 00:00 UTC
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(time_ms: int, serial: int) -> str:
    """A valid ULID: 10 chars of time, 16 of 'randomness' (here a serial, so ids never collide)."""
    chars: list[str] = []
    for number, width in ((time_ms, 10), (serial, 16)):
        part, rest = [], number
        for _ in range(width):
            part.append(_CROCKFORD[rest & 31])
            rest >>= 5
        chars.extend(reversed(part))
    return "".join(chars)


def _probabilities(top: str) -> dict[str, float]:
    return {e: (0.94 if e == top else 0.01) for e in EXPRESSIONS}


def edge_events(count: int, sites: int = 3, cameras: int = 4, dwell_s: int = 20, first: int = 0,
                start_ms: int = T0_MS) -> list[bytes]:
    """Edge-shaped events as JSON lines: visits of `dwell_s` updates then a track_end, heartbeats."""
    encoder = msgspec.json.Encoder()
    out: list[bytes] = []
    t = start_ms
    visit = first
    while len(out) < count:
        site, camera = f"site-{visit % sites}", f"cam-{visit % cameras}"
        top = EXPRESSIONS[visit * 7 % len(EXPRESSIONS)]
        base = {"schema": "face_expression", "schema_version": "1.0", "site_id": site, "camera_id": camera,
                "zone": None, "track_id": f"t{visit}", "box": {"x": 0.25, "y": 0.1, "w": 0.2, "h": 0.3},
                "quality": {"face_px": 96, "sharpness": 140.5, "brightness": 120.0, "usable": True},
                "probabilities": _probabilities(top), "top_class": top, "valence": round(VALENCE[top] * 0.94, 4),
                "model": {"id": "moodlens-expression-vgg32", "version": "1.0.0"}, "edge_version": "0.1.0"}
        for _ in range(dwell_s):
            t += 50
            out.append(encoder.encode({**base, "event_id": _ulid(t, len(out)), "event_time_ms": t,
                                       "kind": "track_update"}))
        out.append(encoder.encode({**base, "event_id": _ulid(t, len(out)), "event_time_ms": t, "kind": "track_end",
                                   "duration_ms": dwell_s * 1000, "frame_count": dwell_s * 24}))
        if visit % 10 == 0:
            out.append(encoder.encode({
                "schema": "camera_heartbeat", "schema_version": "1.0", "event_id": _ulid(t, len(out)),
                "site_id": site, "camera_id": camera, "event_time_ms": t, "fps": 24.0, "faces": 3,
                "open_tracks": 1, "spool_depth": 0, "dropped_count": 0, "model_version": "1.0.0",
                "uptime_s": 3600.0, "edge_version": "0.1.0"}))
        visit += 1
    return out[:count]


def bench_compact(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        raw = root / "raw"
        raw.mkdir()
        per_file, size = args.per_file, 0
        log = LocalLog(raw) if args.log else None
        for start in range(0, args.events, per_file):  # file by file: the generator's memory stays small
            lines = edge_events(min(per_file, args.events - start), first=start, start_ms=T0_MS + start * 50)
            size += sum(map(len, lines)) + len(lines)
            data = b"\n".join(lines) + b"\n"
            if log is not None:
                log.append(lines)
            elif args.plain:
                (raw / f"part-{start:09d}.jsonl").write_bytes(data)
            else:
                (raw / f"part-{start:09d}.jsonl.gz").write_bytes(gzip.compress(data, compresslevel=1))
        del lines, data
        if log is not None:
            log.close()  # the compacting process reads it
        form = "the embedded log" if args.log else "plain files" if args.plain else "gzip files"
        print(f"{args.events:,} events, {size / 1e6:.0f} MB of JSON, in {form}", flush=True)
        # A fresh process, so the generator's memory is not in the peak RSS.
        subprocess.run([sys.executable, __file__, "compact-files", str(raw), str(root / "lake"),
                        *(["--log"] if args.log else [])], check=True)


def _peak_rss_mib() -> float:
    """This process's peak RSS since its exec: /proc's VmHWM (ru_maxrss keeps the peak of the process
    before exec, here the generating parent's, forked: it read the generator's memory, not ours)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_compact_files(args: argparse.Namespace) -> None:
    raw, lake = Path(args.raw), Path(args.lake)
    catalog = open_catalog(LakeConfig(root=lake))
    ensure_tables(catalog)
    errors: list[SourceError] = []

    def source() -> Source:
        batches = from_log(LocalLog(raw), f"log:{raw}") if args.log else from_directory(raw, errors)
        return Source(str(raw), batches, errors)

    started, cpu = time.perf_counter(), time.process_time()
    result = compact(catalog, [source()])
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_rss_mib()
    print(f"compaction: {result.records:,} events in {wall:.2f} s wall, {used:.2f} s CPU: "
          f"{result.records / wall:,.0f} events/s wall, {result.records / used:,.0f} per CPU s; "
          f"peak RSS {peak:,.0f} MiB")
    print(f"  written {result.written}, fast path {result.fast:,}, reference {result.reference:,}")
    again = time.perf_counter()
    errors.clear()
    rerun = compact(catalog, [source()])
    print(f"  re-run over the same input: {sum(rerun.written.values())} rows written, "
          f"{sum(rerun.duplicates.values()):,} duplicates skipped in {time.perf_counter() - again:.2f} s")


_UNLOCKED = ("import sys; from pathlib import Path; from batch.compact.run import compact; "
             "from batch.compact.sources import Source, from_directory; "
             "from batch.lake.tables import LakeConfig, open_catalog; errors = []; "
             "compact(open_catalog(LakeConfig(root=Path(sys.argv[2]))), "
             "[Source(sys.argv[1], from_directory(Path(sys.argv[1]), errors), errors)])")


def bench_concurrent(args: argparse.Namespace) -> None:
    """Two compactions of one raw folder into one lake, the second started `--gap` s after the first;
    then count(*) against count(DISTINCT event_id) of face_expression."""
    root_dir = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root_dir)}
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "raw"
        raw.mkdir()
        (raw / "part-0.jsonl").write_bytes(b"\n".join(edge_events(args.events)) + b"\n")
        doubled = 0
        for trial in range(args.trials):
            lake = Path(folder) / f"lake-{trial}"
            if args.bypass_lock:
                command = [sys.executable, "-c", _UNLOCKED, str(raw), str(lake)]
            else:
                command = [sys.executable, "-m", "moodlens.cli", "batch", "compact", "--raw", str(raw),
                           "--lake", str(lake)]
            first = subprocess.Popen(command, env=env, cwd=root_dir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
            time.sleep(args.gap)
            second = subprocess.Popen(command, env=env, cwd=root_dir, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
            codes = [first.wait(), second.wait()]
            table = open_catalog(LakeConfig(root=lake)).load_table("moodlens.face_expression")
            ids = table.scan(selected_fields=("event_id",)).to_arrow().column("event_id")
            rows, distinct = len(ids), len(pc.unique(ids))
            doubled += rows - distinct
            print(f"trial {trial + 1}: exit codes {codes}, count(*) {rows:,}, count(DISTINCT event_id) {distinct:,}",
                  flush=True)
        print(f"{args.trials} concurrent pairs ({'without' if args.bypass_lock else 'with'} the lake's lock), "
              f"{args.events:,} events each: rows doubled {doubled:,}")


def _month_table(events: int, days: int, sites: int, day: int, rng: np.random.Generator) -> pa.Table:
    """One day of face_expression rows for every site, built column by column."""
    schema = lake_schema(CONTRACTS["face_expression"])
    n = events // days
    start_us = (T0_MS + day * 86_400_000) * 1000
    times = np.sort(rng.integers(0, 86_400_000_000, n)) + start_us
    site_index = rng.integers(0, sites, n)
    tops = rng.integers(0, len(EXPRESSIONS), n)
    kinds = np.where(rng.random(n) < 0.05, 1, 0)
    strings = lambda values, index: pc.take(pa.array(values), pa.array(index))  # noqa: E731
    probabilities = pa.StructArray.from_arrays(
        [pa.array(np.where(tops == i, 0.94, 0.01)) for i in range(len(EXPRESSIONS))],
        fields=list(schema.field("probabilities").type))
    ones = np.ones(n)
    columns = {
        "schema": strings(["face_expression"], np.zeros(n, dtype=np.int64)),
        "schema_version": strings(["1.0"], np.zeros(n, dtype=np.int64)),
        "event_id": pa.array([f"{day:05d}{i:021d}" for i in range(n)]),
        "site_id": strings([f"site-{s}" for s in range(sites)], site_index),
        "event_time": pa.array(times).cast(pa.timestamp("us", tz="UTC")),
        "camera_id": strings([f"cam-{c}" for c in range(4)], rng.integers(0, 4, n)),
        "zone": pa.nulls(n, pa.string()),
        "track_id": strings([f"t{i}" for i in range(1000)], rng.integers(0, 1000, n)),
        "kind": strings(["track_update", "track_end"], kinds),
        "duration_ms": pa.array(np.where(kinds == 1, 20_000, 0), mask=kinds == 0),
        "frame_count": pa.array(np.where(kinds == 1, 480, 0), mask=kinds == 0),
        "box": pa.StructArray.from_arrays([pa.array(ones * v) for v in (0.25, 0.1, 0.2, 0.3)],
                                          fields=list(schema.field("box").type)),
        "quality": pa.StructArray.from_arrays(
            [pa.array(np.full(n, 96)), pa.array(ones * 140.5), pa.array(ones * 120.0), pa.array(np.ones(n, bool))],
            fields=list(schema.field("quality").type)),
        "probabilities": probabilities,
        "top_class": strings(list(EXPRESSIONS), tops),
        "valence": pa.array(np.array([VALENCE[e] for e in EXPRESSIONS])[tops] * 0.94),
        "model": pa.StructArray.from_arrays([strings(["moodlens-expression-vgg32"], np.zeros(n, dtype=np.int64)),
                                             strings(["1.0.0"], np.zeros(n, dtype=np.int64))],
                                            fields=list(schema.field("model").type)),
        "edge_version": strings(["0.1.0"], np.zeros(n, dtype=np.int64)),
    }
    return pa.Table.from_pydict(columns, schema=schema)


HOURLY = "SELECT site_id, hour, tracks, mean_valence, net_score FROM sentiment_by_hour_site ORDER BY site_id, hour"
# the same view in each site's local time, and a view that converts every row (local days)
LOCAL_HOURLY = ("SELECT site_id, local_date, local_hour, tracks, net_score, net_low, net_high "
                "FROM sentiment_by_hour_site ORDER BY site_id, hour")
LOCAL_DAYS = "SELECT site_id, local_date, visits, mean_valence FROM visits ORDER BY site_id, local_date"
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")


def bench_query(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = open_catalog(LakeConfig(root=Path(folder) / "lake"))
        tables = ensure_tables(catalog)
        rng = np.random.default_rng(1)
        built = time.perf_counter()
        for day in range(args.days):
            tables["face_expression"].append(_month_table(args.events, args.days, args.sites, day, rng))
        tables = ensure_tables(catalog)
        print(f"built {args.events:,} face_expression rows over {args.days} days x {args.sites} sites in "
              f"{time.perf_counter() - built:.1f} s", file=sys.stderr)
        sites = sites_frame([{"site_id": f"site-{i}", "timezone": ZONES[i % len(ZONES)]} for i in range(args.sites)])
        for label, query, writable in (
                ("hourly sentiment by site (UTC hours), DuckDB reading the files itself", HOURLY, True),
                ("hourly sentiment by site (UTC hours), locked down, pyarrow reading", HOURLY, False),
                ("hourly sentiment by site in local time (local date/hour, 95% interval)", LOCAL_HOURLY, False),
                ("visits per local day (every row converted to local time)", LOCAL_DAYS, False)):
            timings = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = run_query(tables, query, threads=args.threads, sites=sites, writable=writable)
                timings.append(time.perf_counter() - started)
            scan = result.scans["face_expression"]
            print(f"{label}, {args.events:,} events / {args.days} days, {args.threads or 'all'} DuckDB threads: "
                  f"best {min(timings):.2f} s, median {sorted(timings)[len(timings) // 2]:.2f} s; "
                  f"{result.table.num_rows} rows; {scan.files} files, {scan.bytes / 1e6:.0f} MB planned")
        moment = dt.datetime.fromtimestamp(T0_MS / 1000 + 5 * 86_400, tz=dt.UTC)
        one = run_query(tables, f"SELECT count(*) AS n, avg(valence) AS v FROM face_expression WHERE site_id = "
                                f"'site-1' AND event_time >= TIMESTAMP '{moment:%Y-%m-%d}' AND event_time < "
                                f"TIMESTAMP '{moment + dt.timedelta(days=1):%Y-%m-%d}'", threads=args.threads)
        pruned = one.scans["face_expression"]
        print(f"one day, one site: {pruned.files} of {pruned.total_files} files, {pruned.bytes / 1e6:.1f} of "
              f"{pruned.total_bytes / 1e6:.0f} MB ({pruned.bytes / pruned.total_bytes:.1%}); "
              f"{one.table.column('n')[0].as_py():,} rows")


def bench_migrate(args: argparse.Namespace) -> None:
    from pyiceberg.transforms import DayTransform, IdentityTransform

    from batch.lake.migrate import migrate_lake
    from batch.lake.tables import TABLE_PROPERTIES, existing_tables, identifier

    with tempfile.TemporaryDirectory() as folder:
        catalog = open_catalog(LakeConfig(root=Path(folder) / "lake"))
        old = lake_schema(CONTRACTS["face_expression"])
        old = old.set(old.get_field_index("event_time"), old.field("event_time").with_name("event_time_ms"))
        tx = catalog.create_table_transaction(identifier("face_expression"), schema=old, properties=TABLE_PROPERTIES)
        with tx.update_spec() as spec:  # as the lake was created before the rename
            spec.add_field("event_time_ms", DayTransform(), "event_day")
            spec.add_field("site_id", IdentityTransform(), "site_id")
        tx.commit_transaction()
        table = catalog.load_table(identifier("face_expression"))
        rng = np.random.default_rng(1)
        for day in range(args.days):
            rows = _month_table(args.events, args.days, args.sites, day, rng)
            table.append(rows.rename_columns(["event_time_ms" if n == "event_time" else n for n in rows.column_names]))
        before = table.scan(selected_fields=("event_time_ms",)).to_arrow().column(0).cast(pa.int64())
        built_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        changes = migrate_lake(existing_tables(catalog))
        seconds = time.perf_counter() - started
        after = catalog.load_table(identifier("face_expression")).scan(selected_fields=("event_time",)).to_arrow()
        kept = (len(after), pc.sum(after.column(0).cast(pa.int64())).as_py()) == (len(before), pc.sum(before).as_py())
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"migrated {len(before):,} face_expression rows ({', '.join(map(str, changes))}) over {args.days} "
              f"days x {args.sites} sites in {seconds:.1f} s ({len(before) / seconds:,.0f} rows/s); peak RSS "
              f"{peak_mb:,.0f} MB ({built_mb:,.0f} MB before the migration began, building the table); rows and "
              f"time sums {'equal' if kept else 'DIFFERENT'} before and after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    c = modes.add_parser("compact")
    c.add_argument("--events", type=int, default=1_000_000)
    c.add_argument("--plain", action="store_true", help="plain .jsonl files (Firehose without compression)")
    c.add_argument("--log", action="store_true", help="the embedded log (`moodlens batch compact`'s default input)")
    c.add_argument("--per-file", type=int, default=100_000, help="events per raw file (peak RSS grows with "
                                                                    "it only where a file is held whole)")
    t = modes.add_parser("concurrent", help="pairs of `moodlens batch compact` on one raw folder and lake at once: "
                                            "rows doubled")
    t.add_argument("--events", type=int, default=50_000)
    t.add_argument("--trials", type=int, default=5)
    t.add_argument("--gap", type=float, default=0.5, help="seconds between the two starts (the issue's `sleep 0.5`)")
    t.add_argument("--bypass-lock", action="store_true",
                   help="call the compaction without the lake's lock (the commit-time dedup alone)")
    q = modes.add_parser("query")
    q.add_argument("--events", type=int, default=10_000_000)
    q.add_argument("--days", type=int, default=30)
    q.add_argument("--sites", type=int, default=3)
    q.add_argument("--threads", type=int, default=None)
    q.add_argument("--repeat", type=int, default=5)
    m = modes.add_parser("migrate", help="the face_expression table as written before the time columns were "
                                         "renamed, migrated")
    m.add_argument("--events", type=int, default=2_000_000)
    m.add_argument("--days", type=int, default=30)
    m.add_argument("--sites", type=int, default=3)
    f = modes.add_parser("compact-files", help="(internal) compact a folder of raw files, in this process")
    f.add_argument("raw")
    f.add_argument("lake")
    f.add_argument("--log", action="store_true", help="raw is an embedded log folder")
    args = parser.parse_args()
    {"compact": bench_compact, "compact-files": bench_compact_files, "query": bench_query,
     "concurrent": bench_concurrent, "migrate": bench_migrate}[args.mode](args)


if __name__ == "__main__":
    main()
