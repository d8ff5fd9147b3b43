"""The record-size limit is the contract's: what the edge publishes the stream takes, what it refuses
the stream would have dead-lettered as too large, measured the same way (bytes of the one-line JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.publish.iot import IotCoreTransport
from edge.publish.kinesis import KinesisTransport
from edge.publish.local import LocalLogTransport
from edge.publish.publisher import SpoolingPublisher, encode_event
from edge.publish.spool import SqliteSpool
from locallog import LocalLog
from schemas.contract import MAX_RECORD_BYTES
from schemas.validation import Code
from stream.ingest import IngestConfig, ingest
from tests.edge.publish.fakes import heartbeat


@pytest.mark.parametrize("transport", [LocalLogTransport, KinesisTransport, IotCoreTransport])
def test_every_transport_publishes_up_to_the_contracts_limit(tmp_path: Path, transport: type) -> None:
    unconnected = SimpleNamespace(name=transport.name, limits=transport.limits)  # the class's declared limits
    with SqliteSpool(tmp_path / "spool.db") as spool:
        assert SpoolingPublisher(spool, unconnected).max_record_bytes == MAX_RECORD_BYTES
    assert IngestConfig().max_bytes == MAX_RECORD_BYTES


def _sized(number: int, size: int, filler: str) -> dict:
    """A valid heartbeat whose encoding is ``size`` bytes, give or take one multi-byte filler character."""
    event = heartbeat(number) | {"note": ""}
    room = size - len(encode_event(event))
    event["note"] = filler * max(0, room // len(filler.encode()))
    return event


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(MAX_RECORD_BYTES - 3, MAX_RECORD_BYTES + 3), min_size=1, max_size=6),
       filler=st.sampled_from(["x", "é", "€"]))
def test_the_edge_refuses_exactly_what_the_stream_would_dead_letter(tmp_path_factory: pytest.TempPathFactory,
                                                                      sizes: list[int], filler: str) -> None:
    folder = tmp_path_factory.mktemp("limit")
    events = [_sized(n, size, filler) for n, size in enumerate(sizes)]
    with SqliteSpool(folder / "spool.db") as spool:
        publisher = SpoolingPublisher(spool, LocalLogTransport(folder / "log"))
        for event in events:
            publisher.publish(event)
        assert publisher.drain().remaining == 0
    with LocalLog(folder / "log") as log:
        delivered = [payload for _, payload in log.read(0, len(events) + 1)]

    accepted, letters = ingest([(f"log@{n}", payload) for n, payload in enumerate(delivered)], None)
    assert letters == [] and len(accepted) == len(delivered)  # nothing published is dead-lettered

    # What the edge refused, the stream would have dead-lettered for its size: the same verdict on every event.
    _, would_be = ingest([(str(e["faces"]), encode_event(e)) for e in events], None)
    too_large = {int(letter.source) for letter in would_be if letter.code == Code.TOO_LARGE}
    assert {json.loads(p)["faces"] for p in delivered} == {e["faces"] for e in events} - too_large
    assert publisher.stats.refused == len(too_large)
