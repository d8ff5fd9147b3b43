"""Stream host figures: consumer records per CPU second with S3 checkpoints, state size per site
after a busy day, and cameras per consumer core.

    taskset -c 0 .venv/bin/python benchmarks/stream_host.py consumer [--cameras 200] [--seconds 600]
    taskset -c 0 .venv/bin/python benchmarks/stream_host.py state [--cameras 10] [--hours 12]

``consumer`` runs the host (validation, per-site engines and alarms, outputs, fenced commit) over
edge-shaped records already in memory (the source is not measured), with its state in S3 on a moto
server started as a separate process, so the CPU time counted (``time.process_time``) is the
consumer's own: boto3 requests included, the fake S3 not. Outputs go to a null sink (their cost is
the AWS SDK's calls, as for the state). Two commit policies: every batch (worst case) and the S3
default (``--commit-every-s 30``, simulated by a commit every ``30 s x events/s`` records). Validation
(``stream.ingest``) is timed on its own too, so the host's share and the figure with a faster
validator (``--validator-rate``, records/s) can be told apart.

Cameras per core: records per CPU second / events per camera per second, with the edge's rate:
``faces * (1 + 1/dwell_s) + 1/60`` (a track_update per second per face in view, a track_end per
visit, a heartbeat a minute).

``state`` feeds one site of ``--cameras`` cameras for ``--hours`` of busy trade (``--faces`` in view
per camera all the time) and prints the size of the site's state object (JSON, as stored in S3).
"""

from __future__ import annotations

import argparse
import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

if __package__ in (None, ""):  # run as a script (as the README does): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stream_engine import edge_events
from stream.deadletter import DeadLetter
from stream.host.loop import Host, HostConfig
from stream.host.ports import SourceRecord
from stream.host.sites import Applied, Emitted, Sites
from stream.ingest import ingest
from stream.jsonl import dumps
from stream.state.s3 import S3StateStore


class MemorySource:
    name = "bench"

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads, self.offset = payloads, 0

    def seek(self, position: Any) -> None:
        self.offset = int(position or 0)

    def poll(self, max_records: int) -> list[SourceRecord]:
        chunk = self.payloads[self.offset:self.offset + max_records]
        records = [SourceRecord("p", self.offset + i, data, f"bench@{self.offset + i}") for i, data in enumerate(chunk)]
        self.offset += len(chunk)
        return records

    def position(self) -> int:
        return self.offset


class CountingPuts:
    """The S3 client, counting PutObject calls."""

    def __init__(self, client: Any) -> None:
        self.client, self.puts = client, 0

    def put_object(self, **kwargs: Any) -> Any:
        self.puts += 1
        return self.client.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class NullOutputs:
    def restore(self, positions: Any) -> None:
        return None

    def write(self, emitted: Emitted, letters: Sequence[DeadLetter]) -> None:
        return None

    def flush(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


def moto_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def events_per_camera_s(faces: float, dwell_s: int) -> float:
    return faces * (1 + 1 / dwell_s) + 1 / 60


def consumer(args: argparse.Namespace) -> None:
    payloads = [dumps(e) for e in edge_events(args.cameras, args.seconds, args.faces, args.dwell_s)]
    # the fence costs: a claim at start (two PUTs), then one conditional PUT of the whole state per commit
    rate = events_per_camera_s(args.faces, args.dwell_s)
    cpu = time.process_time()
    ingest([(str(i), p) for i, p in enumerate(payloads)], None)
    validation_cpu = time.process_time() - cpu
    process, url = moto_server()
    results: dict[str, Any] = {"records": len(payloads), "sites": (args.cameras + 9) // 10,
                               "events_per_camera_s": round(rate, 3),
                               "validation_records_per_cpu_s": round(len(payloads) / validation_cpu)}
    try:
        s3 = CountingPuts(boto3.client("s3", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench"))
        s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket="bench", VersioningConfiguration={"Status": "Enabled"})  # the store needs it
        commit_records = int(30 * rate * args.cameras)  # the S3 default: a commit per 30 s of input
        for policy, batch in (("commit every batch", args.batch_size), ("commit every 30 s of input", None)):
            store = S3StateStore(s3, f"s3://bench/{policy.replace(' ', '-')}")
            config = HostConfig(check_time=False, batch_size=args.batch_size,
                                commit_every_s=0.0 if batch else 1e9)
            host = Host(MemorySource(payloads), store, NullOutputs(), config)
            s3.puts = 0
            commits = 0
            cpu = time.process_time()
            wall = time.perf_counter()
            done = 0
            while count := host.step():
                done += count
                if batch is None and done // commit_records != (done - count) // commit_records:
                    host.commit()
                    commits += 1
            host.commit()
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            per_cpu_s = len(payloads) / cpu
            host_only = len(payloads) / max(cpu - validation_cpu, 1e-9)
            faster = 1 / (1 / host_only + 1 / args.validator_rate)
            results[policy] = {"records_per_cpu_s": round(per_cpu_s), "cameras_per_core": round(per_cpu_s / rate),
                               "host_without_validation_records_per_cpu_s": round(host_only),
                               f"records_per_cpu_s_with_{args.validator_rate}_per_s_validation": round(faster),
                               f"cameras_per_core_with_{args.validator_rate}_per_s_validation": round(faster / rate),
                               "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "s3_puts": s3.puts}
    finally:
        process.terminate()
        process.wait()
    print(json.dumps(results, indent=1))


def state(args: argparse.Namespace) -> None:
    sites = Sites(HostConfig().engine, HostConfig().alarms)
    n = 0
    chunk: list[Applied] = []
    for event in edge_events(args.cameras, args.hours * 3600, args.faces, args.dwell_s):
        chunk.append(Applied(event, "p", n))
        n += 1
        if len(chunk) == 20_000:
            sites.apply(chunk)
            chunk = []
    sites.apply(chunk)
    (name, snapshot), = sites.snapshot().items()
    body = dumps(snapshot)
    start = time.perf_counter()
    for _ in range(10):
        dumps(sites.snapshot())
    snapshot_ms = (time.perf_counter() - start) * 100
    print(json.dumps({"site": name, "cameras": args.cameras, "hours": args.hours, "events": n,
                      "state_bytes": len(body), "state_bytes_gzip": len(gzip.compress(body)),
                      "snapshot_and_serialise_ms": round(snapshot_ms, 1)}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("consumer")
    run.add_argument("--cameras", type=int, default=200)
    run.add_argument("--seconds", type=int, default=600)
    run.add_argument("--batch-size", type=int, default=5_000)
    run.add_argument("--validator-rate", type=int, default=500_000,
                     help="records/s of a compiled validator, for the derived figure (default 500000)")
    size = commands.add_parser("state")
    size.add_argument("--cameras", type=int, default=10)
    size.add_argument("--hours", type=int, default=12)
    for sub in (run, size):
        sub.add_argument("--faces", type=float, default=2.0, help="faces in view per camera (default 2)")
        sub.add_argument("--dwell-s", type=int, default=20, help="seconds per visit (default 20)")
    args = parser.parse_args()
    {"consumer": consumer, "state": state}[args.command](args)


if __name__ == "__main__":
    main()
