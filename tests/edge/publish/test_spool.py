"""The SQLite spool: FIFO order, acks, oldest-first bounds with a drop count, and surviving SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge.publish.local import LocalLogTransport
from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SpoolBounds, SqliteSpool
from locallog import LocalLog, next_offset

REPO = Path(__file__).resolve().parents[3]


class FakeClock:
    def __init__(self, now_ms: int = 1_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def payloads(spool: SqliteSpool) -> list[bytes]:
    return [r.payload for r in spool.peek(1_000_000, 1 << 40)]


def test_peek_returns_oldest_first_and_ack_removes_exactly_those(tmp_path):
    spool = SqliteSpool(tmp_path / "s.db")
    seqs = [spool.put(f"e{n}".encode(), "site", "cam") for n in range(5)]
    batch = spool.peek(3, 1 << 20)
    assert [r.payload for r in batch] == [b"e0", b"e1", b"e2"]
    assert [r.seq for r in batch] == seqs[:3]
    assert (batch[0].site_id, batch[0].camera_id) == ("site", "cam")

    spool.ack([seqs[1]])  # acking out of order removes only that one
    assert payloads(spool) == [b"e0", b"e2", b"e3", b"e4"]
    assert spool.depth() == 4
    spool.ack([seqs[1], 999])  # acking again, or an unknown seq, is harmless
    assert spool.depth() == 4


@pytest.mark.parametrize(("sizes", "max_bytes", "expected"), [
    ([10, 10, 10], 25, [0, 1]),  # the third does not fit beside the first two
    ([10, 10, 10], 30, [0, 1, 2]),
    ([50, 1, 1], 10, [0]),  # at least one record, even over the limit, so nothing is stuck
])
def test_peek_stops_at_the_byte_limit(tmp_path, sizes, max_bytes, expected):
    spool = SqliteSpool(tmp_path / "s.db")
    for n, size in enumerate(sizes):
        spool.put(bytes([48 + n]) * size, "site", None)
    assert [r.payload[0] - 48 for r in spool.peek(10, max_bytes)] == expected


@pytest.mark.parametrize(("bounds", "sizes", "kept", "dropped"), [
    (SpoolBounds(max_records=3), [1] * 5, [2, 3, 4], 2),
    (SpoolBounds(max_records=1), [1] * 3, [2], 2),
    (SpoolBounds(max_bytes=25), [10] * 4, [2, 3], 2),
    (SpoolBounds(max_bytes=25), [10, 10, 20], [2], 2),  # a big one evicts as many old as it needs
    (SpoolBounds(max_records=10, max_bytes=1000), [10] * 5, [0, 1, 2, 3, 4], 0),
])
def test_bounds_drop_the_oldest_and_count_them(tmp_path, bounds, sizes, kept, dropped):
    spool = SqliteSpool(tmp_path / "s.db", bounds=bounds)
    for n, size in enumerate(sizes):
        spool.put(bytes([48 + n]) * size, "site", None)
    assert [p[0] - 48 for p in payloads(spool)] == kept
    assert spool.dropped_count == dropped
    assert spool.dropped_total == dropped
    assert spool.depth() == len(kept)
    assert spool.size_bytes() == sum(sizes[n] for n in kept)


def test_events_older_than_the_age_bound_are_dropped_oldest_first(tmp_path):
    clock = FakeClock()
    spool = SqliteSpool(tmp_path / "s.db", bounds=SpoolBounds(max_age_s=60), clock_ms=clock)
    spool.put(b"old", "site", None)
    clock.now_ms += 30_000
    spool.put(b"younger", "site", None)
    clock.now_ms += 40_000  # "old" is 70 s old now, "younger" 40 s

    assert payloads(spool) == [b"younger"]
    assert spool.dropped_count == 1


def test_an_event_larger_than_the_whole_spool_is_refused_not_spooled(tmp_path):
    spool = SqliteSpool(tmp_path / "s.db", bounds=SpoolBounds(max_bytes=10))
    spool.put(b"keep", "site", None)
    with pytest.raises(ValueError, match="exceeds"):
        spool.put(b"x" * 11, "site", None)
    assert payloads(spool) == [b"keep"]


def test_contents_and_lifetime_drop_count_survive_reopening(tmp_path):
    with SqliteSpool(tmp_path / "s.db", bounds=SpoolBounds(max_records=2)) as spool:
        for n in range(3):
            spool.put(f"e{n}".encode(), "site", "cam")
    reopened = SqliteSpool(tmp_path / "s.db", bounds=SpoolBounds(max_records=2))
    assert payloads(reopened) == [b"e1", b"e2"]
    assert (reopened.depth(), reopened.size_bytes()) == (2, 4)
    assert reopened.dropped_total == 1
    assert reopened.dropped_count == 0  # the heartbeat figure is per process
    assert reopened.put(b"e3", "site", "cam") > max(r.seq for r in reopened.peek(2, 100)[:1])


def test_put_many_is_one_transaction_in_order(tmp_path):
    spool = SqliteSpool(tmp_path / "s.db")
    seqs = spool.put_many([(f"e{n}".encode(), "site", None) for n in range(4)])
    assert seqs == sorted(seqs)
    assert payloads(spool) == [b"e0", b"e1", b"e2", b"e3"]


# A publisher process: spools events one by one and reports each seq after `publish` returned, which is
# the moment the pipeline treats the event as safe.
KILLED_PUBLISHER = textwrap.dedent("""
    import sys
    from edge.publish.local import LocalLogTransport
    from edge.publish.publisher import SpoolingPublisher
    from edge.publish.spool import SqliteSpool
    from tests.edge.publish.fakes import heartbeat
    publisher = SpoolingPublisher(SqliteSpool(sys.argv[1]), LocalLogTransport(sys.argv[2]))
    for number in range(100_000):
        publisher.publish(heartbeat(number))
        print(number, flush=True)
""")


def test_a_publisher_killed_with_sigkill_loses_no_acknowledged_event_and_they_arrive_in_order(tmp_path):
    spool_path, log_dir = tmp_path / "spool.db", tmp_path / "log"
    process = subprocess.Popen([sys.executable, "-c", KILLED_PUBLISHER, str(spool_path), str(log_dir)],
                               stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout is not None
    acknowledged = -1
    for line in process.stdout:
        acknowledged = int(line)
        if acknowledged >= 300:
            break
    os.kill(process.pid, signal.SIGKILL)  # mid-stream: it is inside a put or about to be
    process.wait()
    assert process.returncode == -signal.SIGKILL

    publisher = SpoolingPublisher(SqliteSpool(spool_path), LocalLogTransport(log_dir))
    result = publisher.drain()
    assert result.error is None and result.remaining == 0

    numbers = [json.loads(p)["faces"] for _, p in read_log(LocalLog(log_dir))]
    assert numbers == list(range(len(numbers)))  # in order, no gap, no duplicate
    assert len(numbers) >= acknowledged + 1  # everything acknowledged, perhaps one more in flight


def read_log(log: LocalLog) -> list[tuple[int, bytes]]:
    records, offset = [], 0
    while got := log.read(offset, 500):
        records.extend(got)
        offset = next_offset(got, offset)
    return records


def test_a_full_disk_drops_oldest_counts_and_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # max_page_count makes SQLite answer exactly as on a full file system: SQLITE_FULL,
    # "database or disk is full"
    spool = SqliteSpool(tmp_path / "spool.db")
    spool._db.execute("PRAGMA max_page_count=40")
    seqs = [spool.put(b"x" * 900, "cafe-1", "door") for _ in range(2_000)]
    kept = spool.peek(10_000, 10**9)
    assert spool.dropped_count > 0 and spool.depth() == len(kept) > 0
    assert len(seqs) - seqs.count(0) - spool.dropped_count == spool.depth()  # every put: kept or counted
    assert kept[-1].seq == max(seqs)  # the newest survive
    assert spool.dropped_total == spool.dropped_count  # persisted too
    warnings = [r.getMessage() for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert len(warnings) == 1 and "Dropping the oldest events" in warnings[0]  # said once, clearly
    spool.close()


def test_the_publisher_keeps_publishing_on_a_full_spool_disk(tmp_path: Path) -> None:
    spool = SqliteSpool(tmp_path / "spool.db")
    spool._db.execute("PRAGMA max_page_count=40")
    log = LocalLog(tmp_path / "log")
    publisher = SpoolingPublisher(spool, LocalLogTransport(log))
    for i in range(600):
        publisher.publish({"site_id": "cafe-1", "camera_id": "door", "event_id": f"e{i}", "pad": "y" * 800})
    assert spool.dropped_count > 0
    publisher.drain()
    delivered = len(log.read(0, 10_000))
    assert delivered + spool.dropped_count == 600 and spool.depth() == 0
    publisher.close()
