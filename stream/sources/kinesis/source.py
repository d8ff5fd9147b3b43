"""A Kinesis stream as a host source: every shard, parents before children (``KinesisReader``).

The position is every shard's last sequence number handled and whether it was read to its end; it
lives in the host checkpoint, so it moves only when the batch's outputs and site states are stored.
The shard id is the partition and the sequence number the position, so a re-delivered record is
skipped by the sites that had already applied it (``stream.host.sites``).
"""

from __future__ import annotations

from typing import Any

from stream.host.ports import SourceRecord
from stream.sources.kinesis.reader import KinesisReader, KinesisRecord, MemoryCheckpointStore, ShardCheckpoint

SUB_SEQUENCE_BITS = 20  # KPL-aggregated records share a sequence number and differ in their sub-sequence


def kinesis_position(sequence_number: str, sub_sequence_number: int = 0) -> int:
    """A record's position within its shard as one integer (sequence numbers are decimal strings)."""
    return (int(sequence_number) << SUB_SEQUENCE_BITS) | sub_sequence_number


def parse_kinesis_url(url: str) -> str:
    """``kinesis://STREAM`` -> the stream name."""
    if not url.startswith("kinesis://") or not url[len("kinesis://"):].strip("/"):
        raise ValueError(f"{url!r} is not a Kinesis source (expected kinesis://STREAM)")
    return url[len("kinesis://"):].strip("/")


class KinesisSource:
    def __init__(self, client: Any, stream_name: str, *, limit: int = 1000) -> None:
        self.client = client
        self.stream_name = stream_name
        self.name = f"kinesis:{stream_name}"
        self.limit = limit
        self.reader = KinesisReader(client, stream_name, MemoryCheckpointStore(), limit=limit)

    def seek(self, position: Any) -> None:
        store = MemoryCheckpointStore()
        store.save({k: ShardCheckpoint.from_json(v) for k, v in (position or {}).items()})
        self.reader = KinesisReader(self.client, self.stream_name, store, limit=self.limit)

    def poll(self, max_records: int) -> list[SourceRecord]:
        """One round: one GetRecords per ready shard (at most ``limit`` records each); ``max_records`` is
        not used (a round is the batch)."""
        got: list[KinesisRecord] = []
        for _ in range(8):  # a round that only ended shards makes their children ready: read on
            stats = self.reader.read(got.extend, max_rounds=1)
            if got or not stats.shards_ended:
                break
        return [SourceRecord(r.shard_id, kinesis_position(r.sequence_number), r.data,
                             f"kinesis:{self.stream_name}/{r.shard_id}@{r.sequence_number}") for r in got]

    def position(self) -> dict[str, Any]:
        return {k: v.to_json() for k, v in sorted(self.reader.checkpoints.items())}
