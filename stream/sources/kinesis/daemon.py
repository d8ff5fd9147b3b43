"""The records the KCL MultiLangDaemon hands one record processor (``stream.host.kcl``), as the host's
source: one ``process_records`` call is one batch, read once. The daemon keeps the shard's position
(its checkpoint) and resumes after it, so ``seek`` has nothing to do; ``position`` is the last
record's (sequence number, sub-sequence number), which the processor checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stream.host.ports import SourceRecord
from stream.sources.kinesis.source import kinesis_position


class DaemonRecords:
    name = "kcl"

    def __init__(self) -> None:
        self.records: list[SourceRecord] = []
        self.last: tuple[str, int] | None = None

    def deliver(self, shard_id: str, records: Sequence[Any]) -> None:
        """amazon_kclpy's records (``sequence_number``, ``sub_sequence_number``, ``binary_data``) of one call."""
        self.records = []
        for r in records:
            sub = int(r.sub_sequence_number or 0)
            self.records.append(SourceRecord(shard_id, kinesis_position(r.sequence_number, sub), r.binary_data,
                                             f"kinesis:{shard_id}@{r.sequence_number}/{sub}"))
            self.last = (r.sequence_number, sub)

    def seek(self, position: Any) -> None:
        return None

    def poll(self, max_records: int) -> list[SourceRecord]:
        records, self.records = self.records, []
        return records

    def position(self) -> tuple[str, int] | None:
        return self.last
