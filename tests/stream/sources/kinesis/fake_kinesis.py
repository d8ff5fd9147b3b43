"""An in-memory Kinesis client with the resharding behaviour of the real service, which moto lacks.

moto 5.2.5 keeps routing records to the closed parent after SplitShard (its get_shard_for_key ignores
is_open, so children stay empty), copies parents' records into the child on MergeShards, and never
returns a null NextShardIterator; against moto, parent-before-child ordering is never put to the test.
Here, as in Kinesis, a closed parent keeps its records, new records go to the child owning the key's
hash, and GetRecords on a closed shard read to the end returns no NextShardIterator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


@dataclass
class _Shard:
    shard_id: str
    start: int
    end: int
    parents: tuple[str, ...] = ()
    records: list[dict[str, Any]] = field(default_factory=list)
    open: bool = True


class FakeKinesis:
    def __init__(self, shard_count: int = 1) -> None:
        self._next_id = 0
        self._sequence = 0
        self.shards: dict[str, _Shard] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, shard id)
        self.throttle_next: int = 0
        step = 2**128 // shard_count
        for i in range(shard_count):
            self._new_shard(i * step, (i + 1) * step - 1 if i < shard_count - 1 else 2**128 - 1)

    def _new_shard(self, start: int, end: int, parents: tuple[str, ...] = ()) -> _Shard:
        shard = _Shard(f"shardId-{self._next_id:012d}", start, end, parents)
        self._next_id += 1
        self.shards[shard.shard_id] = shard
        return shard

    def put_record(self, StreamName: str, Data: bytes, PartitionKey: str) -> dict[str, Any]:  # noqa: N803
        key = int(hashlib.md5(PartitionKey.encode()).hexdigest(), 16)
        shard = next(s for s in self.shards.values() if s.open and s.start <= key <= s.end)
        self._sequence += 1
        sequence = f"{self._sequence:056d}"  # Kinesis numbers are long decimal strings, increasing
        shard.records.append({"SequenceNumber": sequence, "PartitionKey": PartitionKey, "Data": Data})
        return {"ShardId": shard.shard_id, "SequenceNumber": sequence}

    def split_shard(self, ShardToSplit: str, NewStartingHashKey: str) -> None:  # noqa: N803
        parent = self.shards[ShardToSplit]
        parent.open = False
        split = int(NewStartingHashKey)
        self._new_shard(parent.start, split - 1, (parent.shard_id,))
        self._new_shard(split, parent.end, (parent.shard_id,))

    def merge_shards(self, ShardToMerge: str, AdjacentShardToMerge: str) -> None:  # noqa: N803
        a, b = self.shards[ShardToMerge], self.shards[AdjacentShardToMerge]
        a.open = b.open = False
        self._new_shard(min(a.start, b.start), max(a.end, b.end), (a.shard_id, b.shard_id))

    def list_shards(self, StreamName: str | None = None, NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        shards = []
        for shard in self.shards.values():
            entry: dict[str, Any] = {
                "ShardId": shard.shard_id,
                "HashKeyRange": {"StartingHashKey": str(shard.start), "EndingHashKey": str(shard.end)},
                "SequenceNumberRange": {"StartingSequenceNumber": "0"}}
            if shard.parents:
                entry["ParentShardId"] = shard.parents[0]
            if len(shard.parents) > 1:
                entry["AdjacentParentShardId"] = shard.parents[1]
            if not shard.open:
                last = shard.records[-1]["SequenceNumber"] if shard.records else "0"
                entry["SequenceNumberRange"]["EndingSequenceNumber"] = last
            shards.append(entry)
        return {"Shards": shards}

    def get_shard_iterator(self, StreamName: str, ShardId: str, ShardIteratorType: str,  # noqa: N803
                           StartingSequenceNumber: str | None = None) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("GetShardIterator", ShardId))
        shard = self.shards[ShardId]
        if ShardIteratorType == "TRIM_HORIZON":
            position = 0
        elif ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            position = next(i + 1 for i, r in enumerate(shard.records)
                            if r["SequenceNumber"] == StartingSequenceNumber)
        else:
            raise ValueError(ShardIteratorType)
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int = 10_000) -> dict[str, Any]:  # noqa: N803
        shard_id, position_text = ShardIterator.split("|")
        self.calls.append(("GetRecords", shard_id))
        if self.throttle_next:
            self.throttle_next -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                              "GetRecords")
        shard = self.shards[shard_id]
        position = int(position_text)
        records = shard.records[position:position + Limit]
        position += len(records)
        response: dict[str, Any] = {"Records": records, "MillisBehindLatest": 0}
        if shard.open or position < len(shard.records):
            response["NextShardIterator"] = f"{shard_id}|{position}"
        else:
            response["ChildShards"] = [{"ShardId": s.shard_id} for s in self.shards.values()
                                       if shard_id in s.parents]
        return response
