"""The KCL record processor, driven by a stand-in for the MultiLangDaemon through the documented
protocol (initialize, process_records with a checkpointer, lease_lost, shard_ended,
shutdown_requested), with the site states in moto's S3.

What only AWS shows (not tested here): the daemon itself (Java), lease balancing and stealing in
DynamoDB, the timing of a real reshard. The stand-in reproduces what the processor relies on:
records of a shard in order, redelivery after the last checkpoint when a lease moves, a parent
shard ended (and checkpointed at SHARD_END) before its children start.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from stream.deadletter import DeadLetter
from stream.host.kcl import SiteRecordProcessor
from stream.host.loop import HostConfig
from stream.host.sites import Applied, Emitted, Sites
from stream.sources.kinesis.daemon import DaemonRecords
from stream.state.s3 import S3Objects, S3SiteStates
from tests.stream.helpers import T0, beat, face

CONFIG = HostConfig(check_time=False)
SITES = ("s1", "s2", "s3", "s4")


@dataclass
class Record:  # amazon_kclpy.messages.Record's fields the processor reads
    sequence_number: str
    partition_key: str
    data: str  # base64, as the daemon sends it
    sub_sequence_number: int = 0

    @property
    def binary_data(self) -> bytes:
        return base64.b64decode(self.data)


class CheckpointError(Exception):  # amazon_kclpy.kcl.CheckpointError: the failure in ``value``
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


@dataclass
class StandIn:
    """Shards, a lease table with checkpoints, and the calls a MultiLangDaemon makes."""

    shards: dict[str, list[Record]] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)  # shard -> sequence number or SHARD_END
    owner: dict[str, object] = field(default_factory=dict)  # shard -> processor holding the lease
    throttle_next: int = 0

    def put(self, shard: str, payloads: Sequence[tuple[str, bytes]]) -> None:
        records = self.shards.setdefault(shard, [])
        base = int(shard.split("-")[1]) * 10**20
        for key, data in payloads:
            records.append(Record(str(base + 1000 + len(records)), key, base64.b64encode(data).decode()))

    def checkpointer(self, shard: str, processor: object) -> Any:
        stand_in = self

        class Checkpointer:
            def checkpoint(self, sequence_number: str | None = None, sub_sequence_number: int | None = None) -> None:
                if stand_in.throttle_next:
                    stand_in.throttle_next -= 1
                    raise CheckpointError("ThrottlingException")
                if stand_in.owner.get(shard) is not processor:
                    raise CheckpointError("ShutdownException")
                stand_in.checkpoints[shard] = sequence_number or "SHARD_END"
        return Checkpointer()

    def start(self, shard: str, processor: SiteRecordProcessor) -> None:
        self.owner[shard] = processor
        processor.initialize(type("InitializeInput", (), {"shard_id": shard, "sequence_number":
                                                          self.checkpoints.get(shard), "sub_sequence_number": 0})())

    def pending(self, shard: str) -> list[Record]:
        done = self.checkpoints.get(shard)
        return [r for r in self.shards[shard] if done is None or int(r.sequence_number) > int(done)]

    def deliver(self, shard: str, processor: SiteRecordProcessor, batch: int, batches: int | None = None) -> None:
        """process_records with the records after the checkpoint, ``batch`` at a time."""
        records = self.pending(shard)
        for sent, start in enumerate(range(0, len(records), batch)):
            if batches is not None and sent == batches:
                return
            chunk = records[start:start + batch]
            processor.process_records(type("ProcessRecordsInput", (), {
                "records": chunk, "checkpointer": self.checkpointer(shard, processor), "millis_behind_latest": 0})())

    def end(self, shard: str, processor: SiteRecordProcessor) -> None:
        processor.shard_ended(type("ShardEndedInput", (), {"checkpointer": self.checkpointer(shard, processor)})())

    def steal(self, shard: str, processor: SiteRecordProcessor) -> None:
        """Another worker takes the lease: it starts from the last checkpoint; the old one is told later."""
        self.start(shard, processor)


class MemoryOutputs:
    def __init__(self) -> None:
        self.windows: list[dict[str, Any]] = []
        self.alarms: list[dict[str, Any]] = []
        self.letters: list[DeadLetter] = []

    def restore(self, positions: Any) -> None:
        return None

    def write(self, emitted: Emitted, letters: Sequence[DeadLetter]) -> None:
        self.windows += [dict(w) for w in emitted.windows]
        self.alarms += [dict(a) for a in emitted.alarms]
        self.letters += letters

    def flush(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(600):  # 50 minutes, four sites, s3 turns sour for 40: long enough for two disjoint
        # 15-minute windows of evidence (stream.alarms), each wholly sour, as a site learnt nothing of yet needs
        for k, site in enumerate(SITES):
            top = "sad" if site == "s3" and i > 120 else ("happy" if (i + k) % 3 else "neutral")
            out.append(face(T0 + i * 5_000 + k, track=f"{site}-{i // 10}", site=site, top=top, n=i))
        if i % 12 == 0:
            out.append(beat(T0 + i * 5_000, site="s1", n=i))
    return out


def payloads(evts: Sequence[dict[str, Any]]) -> list[tuple[str, bytes]]:
    return [(e["site_id"], json.dumps(e).encode()) for e in evts]


def single_consumer() -> tuple[dict[str, Any], dict[str, Any]]:
    sites = Sites(CONFIG.engine, CONFIG.alarms)
    out = sites.apply([Applied(e, "x", i) for i, e in enumerate(events())])
    return {w["event_id"]: w for w in out.windows}, {a["event_id"]: a for a in out.alarms}


@pytest.fixture
def store(aws_client: Callable[[str], Any], unique: str) -> Callable[[], S3SiteStates]:
    s3 = aws_client("s3")
    bucket = f"kcl-{unique}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return lambda: S3SiteStates(S3Objects(s3, bucket), "app")  # one per worker: its own ETag cache


def by_id(documents: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in documents:
        assert out.setdefault(d["event_id"], d) == d  # a replayed window is the same window
    return out


def test_a_shard_handed_over_mid_stream_gives_the_single_consumers_windows(
        store: Callable[[], S3SiteStates]) -> None:
    daemon = StandIn()
    daemon.put("shard-0", [*payloads(events()), ("x", b"{not json")])
    out1, out2 = MemoryOutputs(), MemoryOutputs()
    first = SiteRecordProcessor(store(), out1, CONFIG, records=DaemonRecords(), log=lambda line: None)
    daemon.start("shard-0", first)
    daemon.deliver("shard-0", first, batch=100, batches=5)
    daemon.throttle_next = 2  # the checkpoint of the next batch is throttled twice, then succeeds
    daemon.deliver("shard-0", first, batch=100, batches=1)
    assert daemon.checkpoints["shard-0"] == daemon.shards["shard-0"][599].sequence_number

    second = SiteRecordProcessor(store(), out2, CONFIG, records=DaemonRecords(), log=lambda line: None)
    daemon.steal("shard-0", second)  # lease stolen before `first` checkpoints its next batch
    daemon.deliver("shard-0", first, batch=100, batches=1)  # applied and stored, checkpoint refused
    assert first.stopped is not None and "lease gone" in first.stopped
    daemon.deliver("shard-0", second, batch=100)  # re-delivers that batch: its sites skip it
    first.lease_lost(type("LeaseLostInput", (), {})())
    daemon.end("shard-0", second)
    assert daemon.checkpoints["shard-0"] == "SHARD_END"
    assert second.counters["skipped"] == 100
    assert second.counters["dead_letters"] == 1  # the host's counters: records read, set aside, replayed
    assert first.counters["records"] + second.counters["records"] == len(daemon.shards["shard-0"]) + 100

    windows, alarms = single_consumer()
    assert by_id(out1.windows + out2.windows) == windows
    assert len(out1.windows) + len(out2.windows) == len(windows)  # no window counted twice
    assert by_id(out1.alarms + out2.alarms) == alarms and alarms
    assert [letter.reasons[0][0] for letter in out2.letters] == ["$"]  # the poison record, dead-lettered


def test_a_zombie_worker_is_fenced_and_overwrites_no_site(store: Callable[[], S3SiteStates]) -> None:
    daemon = StandIn()
    daemon.put("shard-0", payloads(events()[:800]))
    zombie, owner = MemoryOutputs(), MemoryOutputs()
    old = SiteRecordProcessor(store(), zombie, CONFIG, records=DaemonRecords(), log=lambda line: None)
    daemon.start("shard-0", old)
    daemon.deliver("shard-0", old, batch=100, batches=2)
    new_store = store()
    new = SiteRecordProcessor(new_store, owner, CONFIG, records=DaemonRecords(), log=lambda line: None)
    daemon.steal("shard-0", new)
    daemon.deliver("shard-0", new, batch=100, batches=3)
    saved = {site: new_store.get(site) for site in SITES}
    old.process_records(type("P", (), {"records": daemon.shards["shard-0"][200:300],
                                       "checkpointer": daemon.checkpointer("shard-0", old)})())
    assert old.stopped is not None and "written by another consumer" in old.stopped
    assert {site: new_store.get(site) for site in SITES} == saved


def test_a_split_parent_then_children_on_other_workers_gives_the_single_consumers_windows(
        store: Callable[[], S3SiteStates]) -> None:
    evts = events()
    cut = len(evts) // 2
    daemon = StandIn()
    daemon.put("shard-0", payloads(evts[:cut]))  # the parent, until the split
    for e in evts[cut:]:  # the children: each site hashes to one of them
        daemon.put(f"shard-{1 + zlib.crc32(e['site_id'].encode()) % 2}", payloads([e]))
    outputs = [MemoryOutputs() for _ in range(3)]
    parent = SiteRecordProcessor(store(), outputs[0], CONFIG, records=DaemonRecords(), log=lambda line: None)
    daemon.start("shard-0", parent)
    daemon.deliver("shard-0", parent, batch=250)
    daemon.end("shard-0", parent)  # children start only after the parent's SHARD_END checkpoint
    assert daemon.checkpoints["shard-0"] == "SHARD_END"
    for n in (1, 2):
        child = SiteRecordProcessor(store(), outputs[n], CONFIG, records=DaemonRecords(), log=lambda line: None)
        daemon.start(f"shard-{n}", child)
        daemon.deliver(f"shard-{n}", child, batch=77)
        child.shutdown_requested(type("ShutdownRequestedInput", (), {
            "checkpointer": daemon.checkpointer(f"shard-{n}", child)})())
        assert daemon.checkpoints[f"shard-{n}"] == daemon.shards[f"shard-{n}"][-1].sequence_number
    windows, alarms = single_consumer()
    everything = [w for o in outputs for w in o.windows]
    assert by_id(everything) == windows and len(everything) == len(windows)
    assert by_id([a for o in outputs for a in o.alarms]) == alarms


class Crash(Exception):  # noqa: N818
    pass


class CrashingStore:
    """The site store, with the worker dying just before its ``at``-th site write."""

    def __init__(self, inner: S3SiteStates, at: int) -> None:
        self.inner, self.at, self.puts = inner, at, 0

    def get(self, site: str) -> dict[str, Any] | None:
        return self.inner.get(site)

    def put(self, site: str, state: Any) -> None:
        self.puts += 1
        if self.puts == self.at:
            raise Crash(f"before site write {self.at}")
        self.inner.put(site, state)

    def site_where(self, site: str) -> str:
        return self.inner.site_where(site)


def stored_counters(store: S3SiteStates) -> dict[str, int]:
    totals: dict[str, int] = {}
    for state in store.all().values():
        for key, value in state["counters"].items():
            totals[key] = totals.get(key, 0) + value
    return totals


@pytest.mark.parametrize("at", [9, 10, 11, 12, 13])  # batch 3 writes sites 9..12; 13: before batch 4's first
def test_a_worker_dying_between_two_site_writes_leaves_the_stored_counters_exact(
        aws_client: Callable[[str], Any], unique: str, at: int) -> None:
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=f"kcl-crash-{unique}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def store() -> S3SiteStates:
        return S3SiteStates(S3Objects(s3, f"kcl-crash-{unique}"), "app")

    daemon = StandIn()
    daemon.put("shard-0", payloads(events()))
    dying = SiteRecordProcessor(CrashingStore(store(), at), MemoryOutputs(), CONFIG, records=DaemonRecords(),
                                log=lambda line: None)
    daemon.start("shard-0", dying)
    with pytest.raises(Crash):
        daemon.deliver("shard-0", dying, batch=100)
    assert daemon.checkpoints["shard-0"] == daemon.shards["shard-0"][(at - 1) // 4 * 100 - 1].sequence_number
    restarted = SiteRecordProcessor(store(), MemoryOutputs(), CONFIG, records=DaemonRecords(), log=lambda line: None)
    daemon.steal("shard-0", restarted)  # the daemon starts a new processor from the last checkpoint
    daemon.deliver("shard-0", restarted, batch=100)
    sites = Sites(CONFIG.engine, CONFIG.alarms)
    sites.apply([Applied(e, "x", i) for i, e in enumerate(events())])
    assert stored_counters(store()) == sites.counters()
    assert (restarted.counters["skipped"] > 0) == (at in (10, 11, 12))  # sites written before the crash skip


def test_a_worker_says_where_it_starts_and_what_it_did_when_it_stops(store: Callable[[], S3SiteStates]) -> None:
    """The daemon's log (the task's) is where an operator looks: each worker's start, from where, and at its
    stop what it read and wrote, not only that it stopped."""
    daemon = StandIn()
    daemon.put("shard-0", payloads(events()))
    said: list[str] = []
    first = SiteRecordProcessor(store(), MemoryOutputs(), CONFIG, records=DaemonRecords(), log=said.append)
    daemon.start("shard-0", first)
    daemon.deliver("shard-0", first, batch=100, batches=2)
    checkpointer = daemon.checkpointer("shard-0", first)
    first.shutdown_requested(type("ShutdownRequestedInput", (), {"checkpointer": checkpointer})())
    checkpoint = daemon.checkpoints["shard-0"]
    again: list[str] = []
    second = SiteRecordProcessor(store(), MemoryOutputs(), CONFIG, records=DaemonRecords(), log=again.append)
    daemon.start("shard-0", second)
    c = first.counters
    assert said == ["kcl shard-0: started at the stream's start",
                    f"kcl shard-0: stopped: shutdown requested; read {c['records']} records, wrote {c['windows']} "
                    f"windows and {c['alarms']} alarm changes, {c['dead_letters']} rejected"]
    assert c["records"] == 200
    assert again == [f"kcl shard-0: started after sequence number {checkpoint}"]
