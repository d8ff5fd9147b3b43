"""A full disk loses no event end to end: edge spool -> local log -> stream. The disk fills at every
write point of the log in turn (a short write first, then ENOSPC; an fsync failing; a new segment that
cannot be created); the publisher keeps what was not acknowledged and delivers it once space is back;
the stream then reads every event exactly once, none torn, none glued to another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.publish.local import LocalLogTransport
from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SqliteSpool
from locallog import LocalLog
from stream.embedded import EmbeddedRunner, RunnerConfig
from tests.stream.helpers import T0, face
from tests.support.disk_full import disk_full

ROUNDS = 6
PER_ROUND = 7
WRITE_POINTS = 5  # first drain: lock file, segment, directory fsync, write, fsync; later: [roll: 2 more] write, fsync


def deliver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int | None,
            segment_bytes: int) -> tuple[int, int, int]:
    """Publishes ROUNDS x PER_ROUND events; each round's first drain runs on a disk that fills at write
    point ``fail_at``; then space is freed and it drains again. Returns (published, failures, depth)."""
    spool = SqliteSpool(tmp_path / "spool.db")
    publisher = SpoolingPublisher(spool, LocalLogTransport(LocalLog(tmp_path / "log", segment_bytes)),
                                  sleep=lambda _: None)
    published = failures = 0
    for round_ in range(ROUNDS):
        for i in range(PER_ROUND):
            publisher.publish(face(T0 + (round_ * PER_ROUND + i) * 1_000, track=f"t{i}", n=round_))
            published += 1
        with disk_full(monkeypatch, fail_at) as disk:
            result = publisher.drain()
        failures += disk.failures
        assert (result.error is None) == (disk.failures == 0)
        if result.error:
            assert result.remaining == spool.depth() > 0  # not acknowledged: still spooled
        publisher.drain()  # space is back
    depth = spool.depth()
    publisher.close()
    spool.close()
    return published, failures, depth


@pytest.mark.parametrize("segment_bytes", [1_500, 64 * 1024 * 1024])  # rolling every round, and never
@pytest.mark.parametrize("fail_at", [None, *range(1, WRITE_POINTS + 1)])
def test_a_full_disk_at_any_write_point_loses_no_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       fail_at: int | None, segment_bytes: int) -> None:
    published, failures, depth = deliver(tmp_path, monkeypatch, fail_at, segment_bytes)
    assert depth == 0
    assert (failures > 0) == (fail_at is not None)  # every run with a fail point really hits a full disk
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", RunnerConfig(check_time=False))
    runner.drain(flush=True)
    runner.close()
    stats = runner.sites.engine_stats()
    assert runner.counters["dead_letters"] == 0  # no torn or glued line
    assert runner.counters["records"] == published  # every event once: nothing lost, nothing twice
    assert stats.accepted == published and stats.duplicates == 0
    log = LocalLog(tmp_path / "log")
    assert log.end_offset() == published
    ids = [json.loads(payload)["event_id"] for _, payload in log.read(0, 10_000)]
    assert len(set(ids)) == published
