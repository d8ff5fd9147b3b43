"""Two consumers on one S3 state, reading Kinesis, on a moto server: every interleaving of their
starts and commits, and the two reproductions of a stale consumer and of an under-count.

What must hold in each: no version of the state object is written by a consumer after a later one
claimed it (a stale consumer writes nothing at all); the consumer that started last is never
fenced; and a consumer run to the end afterwards counts and writes exactly what one uninterrupted
consumer does."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moodlens.cli import main
from stream.host.loop import Host, HostConfig
from stream.host.ports import FencedError
from stream.host.sites import Applied, Emitted, Sites
from stream.sinks.files import LATE, WINDOWS, FileOutputs
from stream.sources.kinesis.source import KinesisSource
from stream.state.s3 import S3StateStore
from tests.stream.helpers import T0, face
from tests.stream.state.test_s3 import make_bucket, stale_writes, versions

CONFIG = HostConfig(check_time=False, batch_size=20)


def put(kinesis: Any, stream: str, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 200):
        kinesis.put_records(StreamName=stream, Records=[{"Data": json.dumps(e).encode(), "PartitionKey": e["site_id"]}
                                                        for e in events[start:start + 200]])


def reference(events: list[dict[str, Any]]) -> dict[str, int]:
    """One consumer over all of it: per-site engines in one go, then flushed."""
    sites = Sites(CONFIG.engine, CONFIG.alarms)
    out = Emitted()
    out.extend(sites.apply([Applied(e, "p", i) for i, e in enumerate(events)]))
    out.extend(sites.flush())
    return {"windows": len(out.windows), "alarms": len(out.alarms), "late": len(out.late), "events": len(events)}


@pytest.fixture
def aws(aws_client: Callable[[str], Any], unique: str) -> dict[str, Any]:
    kinesis, s3 = aws_client("kinesis"), aws_client("s3")
    kinesis.create_stream(StreamName=f"fence-{unique}", ShardCount=1)
    make_bucket(s3, f"fence-{unique}")
    return {"kinesis": kinesis, "s3": s3, "stream": f"fence-{unique}", "url": f"s3://fence-{unique}/consumer"}


def consumer(aws: dict[str, Any], out: Path, name: str) -> Host:
    return Host(KinesisSource(aws["kinesis"], aws["stream"], limit=CONFIG.batch_size),
                S3StateStore(aws["s3"], aws["url"], owner=name), FileOutputs(out), CONFIG)


def two_sites(per_site: int, start: int = 0) -> list[dict[str, Any]]:
    return [face(T0 + i * 20_000 + (site == "b-2"), track=f"{site}-{i // 5}", site=site, n=i,
                 top="sad" if i % 4 == 0 else "happy")
            for i in range(start, start + per_site) for site in ("a-1", "b-2")]


def interleavings() -> list[tuple[str, ...]]:
    """Every order of A's (start, commit, commit, commit) and B's (start, commit, commit)."""
    return sorted({tuple(order) for order in itertools.permutations("AAAABBB")})


def test_every_interleaving_of_two_consumers_leaves_no_stale_write_and_exact_counters(
        aws_client: Callable[[str], Any], unique: str, tmp_path: Path) -> None:
    kinesis, s3 = aws_client("kinesis"), aws_client("s3")
    events = two_sites(60)  # 120 records: 6 batches of 20, so each commit moves the state on
    expected = reference(events)
    tried, stale, live_fenced = 0, 0, 0
    make_bucket(s3, f"mix-{unique}")
    kinesis.create_stream(StreamName=f"mix-{unique}", ShardCount=1)
    put(kinesis, f"mix-{unique}", events)
    for n, order in enumerate(interleavings()):  # one state per interleaving, each read from the stream's start
        aws = {"kinesis": kinesis, "s3": s3, "stream": f"mix-{unique}", "url": f"s3://mix-{unique}/{n}"}
        hosts: dict[str, Host] = {}
        fenced: set[str] = set()
        for who in order:
            if who in fenced:
                continue
            try:
                if who not in hosts:
                    hosts[who] = consumer(aws, tmp_path / f"{n}-{who}", who)
                else:
                    hosts[who].step()
            except FencedError:
                fenced.add(who)
        last_starter = max("AB", key=order.index)  # whose start (its first operation) came later
        for host in hosts.values():
            host.close()
        final = consumer(aws, tmp_path / f"{n}-final", "final")
        final.drain(flush=True)
        final.close()
        tried += 1
        stale += len(stale_writes(versions(s3, aws["url"])))
        live_fenced += last_starter in fenced
        assert {key: final.counters[key] for key in expected} == expected, order
        assert final.counters["records"] == len(events) and final.counters["skipped"] == 0, order
    assert (tried, stale, live_fenced) == (35, 0, 0)
    print(f"{tried} interleavings of two consumers' starts and commits, {stale} objects written by a stale "
          f"consumer, {live_fenced} live consumers fenced")


def test_a_frozen_consumer_resumed_after_another_wrote_one_of_two_sites_writes_nothing(
        aws: dict[str, Any], tmp_path: Path) -> None:
    """The issue's reproduction: sites a-1 and b-2; A follows and commits, then is frozen; b-2 sends
    more and B commits; a-1 sends more and A resumes: A is fenced before writing anything, also
    ``sites/a-1``, which B had not rewritten; B, still following, is not fenced."""
    put(aws["kinesis"], aws["stream"], two_sites(30))
    a = consumer(aws, tmp_path / "a", "A")
    a.drain()
    put(aws["kinesis"], aws["stream"], [e for e in two_sites(60, 30) if e["site_id"] == "b-2"][:30])
    b = consumer(aws, tmp_path / "b", "B")
    b.drain()
    committed = versions(aws["s3"], aws["url"])[-1]
    put(aws["kinesis"], aws["stream"], [e for e in two_sites(60, 30) if e["site_id"] == "a-1"][:30])
    with pytest.raises(FencedError, match=r"another consumer \(B, epoch 2\) has taken the state over since this "
                                          r"one \(A, epoch 1\) claimed it; stopping without writing anything"):
        a.drain()
    a.close()
    written = versions(aws["s3"], aws["url"])
    assert written[-1] == committed and stale_writes(written) == []
    b.drain(flush=True)  # the live consumer goes on, never fenced by the stale one
    b.close()
    assert b.counters["events"] == 120 and b.counters["records"] == 120


def test_a_state_put_back_to_an_earlier_commit_counts_what_the_files_hold(
        aws: dict[str, Any], tmp_path: Path, aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's reproduction of the under-count: one site, one shard, 240 face events (every 7th
    150 s late); consumer 1 on the first 120, consumer 2 on the next 120, each committing; then the
    state put back to consumer 1's commit (with one object, that is all a crash or an operator can
    leave) and `--once --flush`: the counters say what ``windows.jsonl`` and ``late.jsonl`` hold."""
    events = [face(T0 + i * 5_000 - (150_000 if i % 7 == 6 else 0), track=f"t{i // 6}", site="cafe-1", n=i,
                   top="sad" if i % 3 == 0 else "happy") for i in range(240)]
    bucket = aws["url"][5:].split("/")[0]

    def run(*extra: str) -> dict[str, int]:
        assert main(["stream", "run", "--source", f"kinesis://{aws['stream']}", "--state", aws["url"],
                     "--out", str(tmp_path / "out"), "--endpoint-url", aws_env, "--region", "eu-west-1",
                     "--no-time-check", "--once", *extra]) == 0
        summary = capsys.readouterr().err.strip().splitlines()[-1]
        found = re.search(r"wrote (\d+) windows .* (\d+) late events", summary)
        assert found, summary
        return {"windows": int(found.group(1)), "late": int(found.group(2))}

    put(aws["kinesis"], aws["stream"], events[:120])
    run()
    first = aws["s3"].list_object_versions(Bucket=bucket, Prefix="consumer/state.json")["Versions"][0]
    put(aws["kinesis"], aws["stream"], events[120:])
    run()
    aws["s3"].copy_object(Bucket=bucket, Key="consumer/state.json",
                          CopySource={"Bucket": bucket, "Key": "consumer/state.json", "VersionId": first["VersionId"]})
    counted = run("--flush")
    windows = [json.loads(line) for line in (tmp_path / "out" / WINDOWS).read_text().splitlines()]
    late = (tmp_path / "out" / LATE).read_text().splitlines()
    assert counted == {"windows": len({w["event_id"] for w in windows}), "late": len(late)}
    assert len(windows) == len({w["event_id"] for w in windows})  # the files were cut back: no line twice
    clean = reference(events)
    assert counted == {"windows": clean["windows"], "late": clean["late"]} and clean["late"] > 0
