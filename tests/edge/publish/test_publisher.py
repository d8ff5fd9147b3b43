"""SpoolingPublisher: spool first, deliver in order, retry only what failed, never lose a spooled event."""

from __future__ import annotations

import json
import logging
import random
import time

import pytest

from edge.publish.backoff import Backoff
from edge.publish.local import LocalLogTransport
from edge.publish.ports import BatchLimits
from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SpoolBounds, SqliteSpool
from locallog import LocalLog
from tests.edge.publish.fakes import RecordingSleep, ScriptedTransport, heartbeat


def numbers(payloads: list[bytes]) -> list[int]:
    return [json.loads(p)["faces"] for p in payloads]


@pytest.fixture
def spool(tmp_path):
    with SqliteSpool(tmp_path / "spool.db") as opened:
        yield opened


def test_a_dead_network_fills_the_spool_and_it_drains_in_order_when_it_returns(spool):
    transport = ScriptedTransport(offline=True)
    publisher = SpoolingPublisher(spool, transport, sleep=RecordingSleep())
    for n in range(35):
        publisher.publish(heartbeat(n))

    down = publisher.drain()
    assert (down.delivered, down.remaining) == (0, 35)
    assert "unreachable" in (down.error or "")
    assert publisher.stats.consecutive_failures == 1

    transport.offline = False
    up = publisher.drain()
    assert (up.delivered, up.remaining, up.error) == (35, 0, None)
    assert numbers(transport.delivered) == list(range(35))
    assert transport.calls[1:] == [10, 10, 10, 5]  # batches respect the transport's limit
    assert publisher.stats.consecutive_failures == 0


def test_a_long_outage_keeps_the_newest_events_and_counts_the_dropped_oldest(tmp_path):
    spool = SqliteSpool(tmp_path / "spool.db", bounds=SpoolBounds(max_records=20))
    transport = ScriptedTransport(offline=True)
    publisher = SpoolingPublisher(spool, transport)
    for n in range(50):
        publisher.publish(heartbeat(n))
    publisher.drain()
    transport.offline = False
    publisher.drain()

    assert numbers(transport.delivered) == list(range(30, 50))
    assert spool.dropped_count == 30


@pytest.mark.parametrize(("fail_plan", "expected_calls"), [
    ([{1, 3}], [5, 2]),  # only the two failed records are retried
    ([{0, 1, 2, 3, 4}, {0}], [5, 5, 1]),
    ([{4}, {0}, {0}], [5, 1, 1, 1]),
    ([], [5]),
])
def test_a_partial_failure_retries_only_the_failed_records_with_backoff(spool, fail_plan, expected_calls):
    transport = ScriptedTransport(fail_plan=list(fail_plan))
    sleep = RecordingSleep()
    publisher = SpoolingPublisher(spool, transport, backoff=Backoff(base_s=1.0, cap_s=8.0), sleep=sleep)
    for n in range(5):
        publisher.publish(heartbeat(n))

    result = publisher.drain()

    assert transport.calls == expected_calls
    assert sorted(numbers(transport.delivered)) == list(range(5))  # each exactly once
    assert (result.remaining, result.error) == (0, None)
    assert len(sleep.delays) == len(expected_calls) - 1
    assert all(0.0 <= d <= min(8.0, 2.0**i) for i, d in enumerate(sleep.delays))


def test_records_that_keep_failing_stay_spooled_and_the_pass_reports_why(spool):
    transport = ScriptedTransport(fail_plan=[{2}] + [{0}] * 10)
    publisher = SpoolingPublisher(spool, transport, partial_retries=2, sleep=RecordingSleep())
    for n in range(4):
        publisher.publish(heartbeat(n))

    result = publisher.drain()

    assert result.remaining == 1
    assert "still failing after 2 retries" in (result.error or "")
    assert sorted(numbers(transport.delivered)) == [0, 1, 3]
    assert [json.loads(r.payload)["faces"] for r in spool.peek(10, 1 << 20)] == [2]


def test_closing_with_events_undelivered_says_how_many_and_where_they_wait(spool, caplog):
    """A mistyped stream or a dead network at the end of a run: the edge must not end as if all went out."""
    transport = ScriptedTransport(offline=True)
    publisher = SpoolingPublisher(spool, transport, sleep=RecordingSleep())
    for n in range(4):
        publisher.publish(heartbeat(n))
    with caplog.at_level(logging.WARNING, logger="edge.publish.publisher"):
        publisher.close()
    said = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(said) == 1 and "4 events not delivered" in said[0] and "unreachable" in said[0]
    assert str(spool.path) in said[0] and spool.depth() == 4


def test_closing_with_everything_delivered_says_nothing_of_the_spool(spool, caplog):
    publisher = SpoolingPublisher(spool, ScriptedTransport(), sleep=RecordingSleep())
    publisher.publish(heartbeat(1))
    with caplog.at_level(logging.WARNING, logger="edge.publish.publisher"):
        publisher.close()
    assert spool.depth() == 0 and "not delivered" not in caplog.text


@pytest.mark.parametrize("event_size", [70_000, 1_000_000])
def test_an_event_over_the_record_limit_is_refused_at_publish_and_the_next_one_goes_on(spool, caplog, event_size):
    publisher = SpoolingPublisher(spool, ScriptedTransport(limits=BatchLimits(10, 1 << 20, 1 << 20)))
    event = heartbeat(0) | {"edge_version": "x" * event_size}
    with caplog.at_level(logging.ERROR):
        publisher.publish(event)
    publisher.publish(heartbeat(1))
    assert spool.depth() == 1 and publisher.stats.refused == 1
    assert f"{event['event_id']} (camera_heartbeat) refused" in caplog.text
    assert "over the limit of 65536 (too_large)" in (publisher.stats.last_refusal or "")


def test_a_transport_smaller_than_the_contract_sets_the_limit(spool):
    publisher = SpoolingPublisher(spool, ScriptedTransport(limits=BatchLimits(10, 1 << 20, 1000)))
    publisher.publish(heartbeat(0) | {"edge_version": "x" * 1000})
    assert spool.depth() == 0 and "over the limit of 1000" in (publisher.stats.last_refusal or "")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_events_that_are_not_json_are_refused_at_publish(spool, bad):
    publisher = SpoolingPublisher(spool, ScriptedTransport())
    with pytest.raises(ValueError):
        publisher.publish(heartbeat(0) | {"fps": bad})
    assert spool.depth() == 0


def test_the_spool_goes_into_the_local_log_the_stream_consumer_reads(tmp_path, spool):
    publisher = SpoolingPublisher(spool, LocalLogTransport(tmp_path / "log"))
    events = [heartbeat(n) for n in range(3)]
    for event in events:
        publisher.publish(event)
    publisher.drain()

    records = LocalLog(tmp_path / "log").read(0, 10)
    assert [json.loads(p) for _, p in records] == events
    assert [o for o, _ in records] == [0, 1, 2]


def test_a_local_log_that_cannot_be_written_keeps_events_spooled(tmp_path, spool):
    transport = LocalLogTransport(tmp_path / "log")
    (tmp_path / "log").rmdir()
    (tmp_path / "log").write_text("a file where the log directory was")
    publisher = SpoolingPublisher(spool, transport)
    publisher.publish(heartbeat(0))

    result = publisher.drain()
    assert result.remaining == 1
    assert "local log" in (result.error or "")


def test_a_transport_answering_with_impossible_indices_is_a_bug_not_a_silent_loss(spool):
    publisher = SpoolingPublisher(spool, ScriptedTransport(fail_plan=[{7}]))
    publisher.publish(heartbeat(0))
    with pytest.raises(ValueError, match="index 7"):
        publisher.drain()
    assert spool.depth() == 1


def wait_until(condition, timeout_s: float = 20.0) -> None:
    """A safety net against a hang, not a timing assertion."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_the_background_drainer_delivers_and_reconnects_with_logged_backoff(spool, caplog):
    transport = ScriptedTransport(offline=True)
    publisher = SpoolingPublisher(spool, transport, backoff=Backoff(base_s=0.01, cap_s=0.02,
                                                                     rng=random.Random(1)), idle_poll_s=0.05)
    caplog.set_level(logging.WARNING, logger="edge.publish.publisher")
    publisher.start()
    try:
        for n in range(25):
            publisher.publish(heartbeat(n))
        wait_until(lambda: publisher.stats.consecutive_failures >= 3)
        assert spool.depth() == 25
        transport.offline = False
        wait_until(lambda: spool.depth() == 0)
    finally:
        publisher.stop()

    assert numbers(transport.delivered) == list(range(25))
    assert any("reconnecting in" in r.getMessage() and "unreachable" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(("attempt", "ceiling"), [(0, 0.2), (1, 0.4), (3, 1.6), (10, 30.0), (1000, 30.0)])
def test_backoff_is_full_jitter_under_an_exponential_ceiling(attempt, ceiling):
    backoff = Backoff(rng=random.Random(7))
    delays = [backoff.delay(attempt) for _ in range(200)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling / 2  # jitter spreads over the range, it is not a constant
