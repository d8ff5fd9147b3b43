"""The Kinesis development reader: against moto server across a real SplitShard call, and against an
in-memory client that keeps parent records after resharding (which moto does not, see fake_kinesis)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from stream.sources.kinesis.reader import (
    KinesisReader,
    KinesisRecord,
    MemoryCheckpointStore,
    ShardCheckpoint,
    ShardInfo,
    order_shards,
)
from tests.stream.sources.kinesis.fake_kinesis import FakeKinesis

KEYS = [f"site-{i}" for i in range(8)]


class Collect:
    def __init__(self) -> None:
        self.records: list[KinesisRecord] = []

    def __call__(self, records: Any) -> None:
        self.records.extend(records)

    def by_key(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for r in self.records:
            out[r.partition_key].append(json.loads(r.data)["n"])
        return dict(out)


def put(client: Any, stream: str, start: int, count: int) -> dict[str, list[int]]:
    """`count` records per key, numbered from `start`; returns what each key was sent, in order."""
    sent: dict[str, list[int]] = defaultdict(list)
    for n in range(start, start + count):
        for key in KEYS:
            client.put_record(StreamName=stream, Data=json.dumps({"n": n}).encode(), PartitionKey=key)
            sent[key].append(n)
    return dict(sent)


def merge(a: dict[str, list[int]], b: dict[str, list[int]]) -> dict[str, list[int]]:
    return {k: a.get(k, []) + b.get(k, []) for k in sorted(set(a) | set(b))}


# -- moto server: the real API calls, the real SplitShard ------------------------------------------
# moto 5.2.5 keeps routing puts to the closed parent after SplitShard (get_shard_for_key ignores
# is_open), so here the children stay empty: these tests cover the API calls, checkpoints and lineage
# walk, not parent-before-child ordering of data. That is covered against FakeKinesis below.

@pytest.fixture
def moto_stream(aws_client: Any, unique: str) -> tuple[Any, str]:
    client = aws_client("kinesis")
    name = f"events-{unique}"
    client.create_stream(StreamName=name, ShardCount=1)
    return client, name


def test_moto_split_reads_every_record_once_and_opens_children_after_the_parent_ends(
        moto_stream: tuple[Any, str]) -> None:
    client, name = moto_stream
    iterator_calls: list[str] = []
    client.meta.events.register("provide-client-params.kinesis.GetShardIterator",
                                lambda params, **_: iterator_calls.append(params["ShardId"]))
    before = put(client, name, 0, 3)
    parent = client.list_shards(StreamName=name)["Shards"][0]
    client.split_shard(StreamName=name, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(2**127))
    after = put(client, name, 3, 3)

    store = MemoryCheckpointStore()
    got = Collect()
    stats = KinesisReader(client, name, store, limit=5).read(got)

    assert got.by_key() == merge(before, after)
    assert stats.records == len(KEYS) * 6
    shards = {s["ShardId"]: s for s in client.list_shards(StreamName=name)["Shards"]}
    children = [s for s, v in shards.items() if v.get("ParentShardId") == parent["ShardId"]]
    assert len(children) == 2
    assert iterator_calls[0] == parent["ShardId"]
    assert set(iterator_calls[1:]) == set(children)
    saved = store.load()
    assert saved[parent["ShardId"]].ended
    assert saved[parent["ShardId"]].sequence_number == str(stats.records)  # moto numbers 1, 2, ... per shard
    assert not any(saved.get(c, ShardCheckpoint()).ended for c in children)  # children are open


def test_moto_resume_from_checkpoint_file_reads_only_new_records(
        moto_stream: tuple[Any, str]) -> None:
    client, name = moto_stream
    store = MemoryCheckpointStore()  # what a reader in a new process would load
    first = put(client, name, 0, 2)
    got = Collect()
    KinesisReader(client, name, store).read(got)
    assert got.by_key() == first

    second = put(client, name, 2, 2)
    again = Collect()
    KinesisReader(client, name, store).read(again)  # a new reader
    assert again.by_key() == second


def test_moto_handler_failure_leaves_checkpoint_so_batch_is_replayed(
        moto_stream: tuple[Any, str]) -> None:
    client, name = moto_stream
    sent = put(client, name, 0, 2)
    store = MemoryCheckpointStore()

    def crash(records: Any) -> None:
        raise RuntimeError("consumer died")

    with pytest.raises(RuntimeError):
        KinesisReader(client, name, store, limit=4).read(crash)
    got = Collect()
    KinesisReader(client, name, store, limit=4).read(got)
    assert got.by_key() == sent


# -- real resharding semantics (parents keep their records) ------------------------------------------

@pytest.mark.parametrize("reshard", ["split", "split_then_merge"])
def test_children_wait_for_parents_so_each_key_stays_in_order(reshard: str) -> None:
    kinesis = FakeKinesis(shard_count=1)
    sent = put(kinesis, "s", 0, 5)
    kinesis.split_shard(ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    sent = merge(sent, put(kinesis, "s", 5, 5))
    if reshard == "split_then_merge":
        kinesis.merge_shards(ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
        sent = merge(sent, put(kinesis, "s", 10, 5))

    got = Collect()
    # limit=3: the parent needs many GetRecords rounds; a reader that polled children meanwhile
    # would deliver a key's post-split records before its pre-split ones.
    stats = KinesisReader(kinesis, "s", limit=3).read(got)

    assert got.by_key() == sent
    assert stats.records == sum(len(v) for v in sent.values())
    first_read: dict[str, int] = {}
    last_read: dict[str, int] = {}
    for i, (operation, shard) in enumerate(kinesis.calls):
        if operation == "GetRecords":
            first_read.setdefault(shard, i)
            last_read[shard] = i
    for child in kinesis.shards.values():
        for parent in child.parents:
            assert last_read[parent] < first_read[child.shard_id]


def test_child_found_after_reader_started_is_read_after_its_parent() -> None:
    kinesis = FakeKinesis(shard_count=1)
    sent = put(kinesis, "s", 0, 2)
    reader = KinesisReader(kinesis, "s")
    got = Collect()
    reader.read(got)
    kinesis.split_shard(ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    sent = merge(sent, put(kinesis, "s", 2, 2))
    reader.read(got)
    assert got.by_key() == sent


def test_throttled_get_records_is_retried_after_backoff() -> None:
    kinesis = FakeKinesis(shard_count=1)
    sent = put(kinesis, "s", 0, 2)
    kinesis.throttle_next = 2
    sleeps: list[float] = []
    got = Collect()
    stats = KinesisReader(kinesis, "s", sleep=sleeps.append, throttle_backoff_s=0.5).read(got)
    assert got.by_key() == sent
    assert stats.throttled == 2
    assert sleeps == [0.5, 0.5]


@pytest.mark.parametrize(("shards", "expected"), [
    ([ShardInfo("c", ("a", "b"), "0", None), ShardInfo("b", (), "0", "9"), ShardInfo("a", (), "0", "9")],
     ["a", "b", "c"]),
    ([ShardInfo("d", ("c",), "0", None), ShardInfo("c", ("gone",), "0", "9")], ["c", "d"]),  # aged-out parent
    ([ShardInfo("z", (), "0", None), ShardInfo("b", ("z",), "0", None)], ["z", "b"]),
])
def test_order_shards_puts_parents_first(shards: list[ShardInfo], expected: list[str]) -> None:
    assert [s.shard_id for s in order_shards(shards)] == expected
