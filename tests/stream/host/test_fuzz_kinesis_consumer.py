"""Fuzz of the Kinesis development host on moto: every hostile record accepted, a duplicate, late, or
dead-lettered with a reason; never a crash, never silence (see ``tests/stream/test_fuzz.py``)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given

from stream.embedded import DEAD_LETTERS
from stream.ingest import check
from tests.stream.host.test_kinesis_consumer import kinesis_consumer
from tests.stream.test_fuzz import CONFIG, FUZZ, MIN_RECORDS, PLANS, SCRATCH, letters_in
from tests.support.fuzz_records import Plan, build


def test_kinesis_host_accounts_for_every_record(aws_client: Callable[[str], Any]) -> None:
    client = aws_client("kinesis")
    seen = {"records": 0}

    @FUZZ
    @given(PLANS)
    def run(plans: list[Plan]) -> None:
        records = build(plans)
        name = f"fuzz-{uuid.uuid4().hex[:10]}"
        client.create_stream(StreamName=name, ShardCount=1)
        response = client.put_records(StreamName=name, Records=[{"Data": r or b" ", "PartitionKey": "k"}
                                                                for r in records])
        assert response["FailedRecordCount"] == 0
        sequence = [entry["SequenceNumber"] for entry in response["Records"]]
        with tempfile.TemporaryDirectory(dir=SCRATCH) as directory:
            state = Path(directory)
            host = kinesis_consumer(client, name, state, CONFIG, limit=1000)
            read = host.drain(flush=True)
            host.close()
            letters = letters_in(state / DEAD_LETTERS)
        client.delete_stream(StreamName=name)
        dead = {letter["source"].rsplit("@", 1)[1] for letter in letters}
        assert len(dead) == len(letters) and dead <= set(sequence)
        stats = host.sites.engine_stats()
        assert read == len(records) == host.counters["records"]
        assert host.counters["events"] + len(letters) == len(records) == stats.events + len(letters)
        assert stats.accepted + stats.duplicates + stats.conflicting_duplicates + stats.late == stats.events
        for seq, raw in zip(sequence, records, strict=True):
            assert (seq in dead) == (check(raw or b" ", None)[0] is None), raw[:300]
        seen["records"] += len(records)

    run()
    assert seen["records"] >= MIN_RECORDS
