"""A development reader for Kinesis Data Streams (boto3): per-shard iterators, a checkpoint store, and
parent shards read to SHARD_END before their children start after a split or a merge.

The single-process Kinesis source of the stream host (``stream.sources.kinesis.source``): one process owns
every shard, there is no lease table. To spread shards over processes, the KCL does the leasing
(``stream.host.kcl``).

Ordering. Kinesis orders records per shard; a partition key maps to one shard at a time. After a split
or a merge the parent shard closes and its records stay there until retention expires, while new
records for the same key go to a child. Reading a child before its parents have reached SHARD_END would
hand the engine a key's newer records before its older ones, so a shard becomes *ready* only once every
parent it names (ParentShardId, AdjacentParentShardId) is finished, or has aged out of the stream.

Delivery is at-least-once: `read` checkpoints a shard's last sequence number only after the handler
returned for the batch, so a crash replays the batch. Events carry `event_id` for the consumer's dedup.

End of shard. Real Kinesis returns no NextShardIterator once a closed shard has been read to the end
(with ChildShards). Emulators (moto 5.x) always return one, so a closed shard (ListShards gave it an
EndingSequenceNumber) whose GetRecords came back empty with MillisBehindLatest 0 is also taken as ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# GetRecords returns at most 10,000 records or 10 MiB per call; 5 calls/s per shard.
MAX_GET_RECORDS_LIMIT = 10_000
_THROTTLED = {"ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException"}
_EXPIRED = "ExpiredIteratorException"


@dataclass(frozen=True)
class KinesisRecord:
    """One record as read from a shard; `data` is the raw payload (bytes, not base64)."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    approximate_arrival_ms: int | None = None


@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    parents: tuple[str, ...]
    starting_sequence_number: str
    ending_sequence_number: str | None  # set once the shard is closed (split or merged)

    @property
    def closed(self) -> bool:
        return self.ending_sequence_number is not None

    @classmethod
    def from_api(cls, shard: Mapping[str, Any]) -> ShardInfo:
        parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
        sequence_range = shard.get("SequenceNumberRange", {})
        return cls(shard["ShardId"], parents, str(sequence_range.get("StartingSequenceNumber", "0")),
                   sequence_range.get("EndingSequenceNumber"))


@dataclass
class ShardCheckpoint:
    """Where a shard was left: the last sequence number handled, and whether it was read to SHARD_END."""

    sequence_number: str | None = None
    ended: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"sequence_number": self.sequence_number, "ended": self.ended}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ShardCheckpoint:
        sequence = value.get("sequence_number")
        return cls(None if sequence is None else str(sequence), bool(value.get("ended", False)))


class CheckpointStore(Protocol):
    def load(self) -> dict[str, ShardCheckpoint]: ...

    def save(self, checkpoints: Mapping[str, ShardCheckpoint]) -> None: ...


class MemoryCheckpointStore:
    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    def load(self) -> dict[str, ShardCheckpoint]:
        return {k: ShardCheckpoint.from_json(v) for k, v in self._data.items()}

    def save(self, checkpoints: Mapping[str, ShardCheckpoint]) -> None:
        self._data = {k: v.to_json() for k, v in checkpoints.items()}


def order_shards(shards: Iterable[ShardInfo]) -> list[ShardInfo]:
    """Shards with every parent before its children (parents that aged out are ignored), ties by id."""
    by_id = {s.shard_id: s for s in shards}
    ordered: list[ShardInfo] = []
    placed: set[str] = set()
    remaining = sorted(by_id)
    while remaining:
        ready = [s for s in remaining if all(p in placed or p not in by_id for p in by_id[s].parents)]
        if not ready:
            raise ValueError(f"shard lineage has a cycle among {remaining}")
        for shard_id in ready:
            ordered.append(by_id[shard_id])
            placed.add(shard_id)
        remaining = [s for s in remaining if s not in placed]
    return ordered


@dataclass
class ReadStats:
    records: int = 0
    batches: int = 0
    get_records_calls: int = 0
    throttled: int = 0
    expired_iterators: int = 0
    shards_ended: list[str] = field(default_factory=list)


Handler = Callable[[Sequence[KinesisRecord]], None]


class KinesisReader:
    """Reads one stream shard by shard, parents before children, checkpointing after each batch.

    `client` is a boto3 Kinesis client (or anything with list_shards, get_shard_iterator, get_records).
    """

    def __init__(self, client: Any, stream_name: str, checkpoints: CheckpointStore | None = None, *,
                 limit: int = 1000, throttle_backoff_s: float = 0.2,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not 1 <= limit <= MAX_GET_RECORDS_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_GET_RECORDS_LIMIT}, got {limit}")
        self.client = client
        self.stream_name = stream_name
        self.store = checkpoints or MemoryCheckpointStore()
        self.limit = limit
        self.throttle_backoff_s = throttle_backoff_s
        self.sleep = sleep
        self.checkpoints: dict[str, ShardCheckpoint] = self.store.load()
        self._iterators: dict[str, str] = {}
        self._shards: dict[str, ShardInfo] = {}

    # -- shard discovery -------------------------------------------------------------------------
    def list_shards(self) -> list[ShardInfo]:
        shards: list[ShardInfo] = []
        response = self.client.list_shards(StreamName=self.stream_name)
        while True:
            shards.extend(ShardInfo.from_api(s) for s in response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                break
            response = self.client.list_shards(NextToken=token)  # StreamName must not come with NextToken
        self._shards = {s.shard_id: s for s in shards}
        return order_shards(shards)

    def _finished(self, shard_id: str) -> bool:
        checkpoint = self.checkpoints.get(shard_id)
        return checkpoint is not None and checkpoint.ended

    def ready_shards(self) -> list[ShardInfo]:
        """Shards that can be read now: not ended, and every parent still in the stream has ended."""
        return [s for s in order_shards(self._shards.values())
                if not self._finished(s.shard_id)
                and all(self._finished(p) or p not in self._shards for p in s.parents)]

    # -- reading ---------------------------------------------------------------------------------
    def _iterator(self, shard_id: str) -> str:
        if shard_id not in self._iterators:
            checkpoint = self.checkpoints.get(shard_id)
            if checkpoint is not None and checkpoint.sequence_number is not None:
                response = self.client.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    StartingSequenceNumber=checkpoint.sequence_number)
            else:
                response = self.client.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
            self._iterators[shard_id] = response["ShardIterator"]
        return self._iterators[shard_id]

    def _get_records(self, shard_id: str, stats: ReadStats) -> dict[str, Any] | None:
        try:
            stats.get_records_calls += 1
            return dict(self.client.get_records(ShardIterator=self._iterator(shard_id), Limit=self.limit))
        except Exception as error:  # botocore's ClientError, matched by its code: no SDK import here
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code == _EXPIRED:
                stats.expired_iterators += 1
                self._iterators.pop(shard_id, None)  # re-acquired from the checkpoint next round
                return None
            if code in _THROTTLED:
                stats.throttled += 1
                self.sleep(self.throttle_backoff_s)
                return None
            raise

    def _poll_shard(self, shard: ShardInfo, handle: Handler, stats: ReadStats) -> bool:
        """One GetRecords on `shard`: hands the records over, then checkpoints. Whether to poll again
        soon: records came, the shard ended, the call must be retried, or the shard is behind."""
        response = self._get_records(shard.shard_id, stats)
        if response is None:
            return True
        raw = response.get("Records", [])
        records = [KinesisRecord(
            shard_id=shard.shard_id, sequence_number=r["SequenceNumber"], partition_key=r["PartitionKey"],
            data=bytes(r["Data"]),
            approximate_arrival_ms=(int(r["ApproximateArrivalTimestamp"].timestamp() * 1000)
                                    if r.get("ApproximateArrivalTimestamp") is not None else None),
        ) for r in raw]
        next_iterator = response.get("NextShardIterator")
        ended = next_iterator is None or (shard.closed and not records
                                          and response.get("MillisBehindLatest", 0) == 0)
        if records:
            handle(records)  # an exception here leaves the checkpoint where it was: at-least-once
            stats.batches += 1
            stats.records += len(records)
        checkpoint = self.checkpoints.setdefault(shard.shard_id, ShardCheckpoint())
        if records:
            checkpoint.sequence_number = records[-1].sequence_number
        if ended:
            checkpoint.ended = True
            stats.shards_ended.append(shard.shard_id)
            self._iterators.pop(shard.shard_id, None)
        elif next_iterator is not None:
            self._iterators[shard.shard_id] = next_iterator
        if records or ended:
            self.store.save(self.checkpoints)
        # An open shard can answer empty while records lie further on (sparse shard): MillisBehindLatest > 0.
        return bool(records) or ended or response.get("MillisBehindLatest", 0) > 0

    def read(self, handle: Handler, *, follow: bool = False, idle_sleep_s: float = 1.0,
             max_rounds: int | None = None) -> ReadStats:
        """Reads every ready shard round-robin, one GetRecords per shard per round, until a round finds
        nothing new (or forever with `follow`). Shards that end make their children ready; the shard
        list is fetched again whenever a shard ends, so children created meanwhile are found."""
        stats = ReadStats()
        self.list_shards()
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            rounds += 1
            progressed = False
            ended_before = len(stats.shards_ended)
            for shard in self.ready_shards():
                progressed = self._poll_shard(shard, handle, stats) or progressed
            if len(stats.shards_ended) > ended_before:
                self.list_shards()
            if not progressed:
                if not follow:
                    break
                self.sleep(idle_sleep_s)
                self.list_shards()
        return stats
