"""Readers of the event log: a record the edge's own writer appended is read, a malformed one is
skipped and counted, never fatal (the dashboard, its restarts and the demo's tally)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from edge.heartbeat import HeartbeatEmitter
from edge.publish.local import LocalLogTransport
from edge.publish.ports import OutboundRecord
from edge.publish.publisher import encode_event
from locallog import LocalLog
from onebox.dashboard.app import create_app
from onebox.dashboard.server import state_for
from onebox.eventlog import LogTail, Skipped, events

LOCAL = "http://127.0.0.1:8765"  # the Host a browser on the box sends


class _Spool:
    dropped_count = 0

    def depth(self) -> int:
        return 4


def edge_heartbeat(camera: str) -> dict:
    """A heartbeat exactly as the edge builds it."""
    emitter = HeartbeatEmitter("cafe", camera, _Spool(), lambda: "1.0.0", "0.1.0", interval_s=30)
    from edge.heartbeat import PipelineCounters

    return dict(emitter.build(PipelineCounters(frames=0, faces=0, open_tracks=2)))


def edge_append(log_dir: Path, events_: list[dict]) -> None:
    """Appends through the edge's own transport into the shared log, as `moodlens up`'s edges do."""
    transport = LocalLogTransport(log_dir)
    try:
        transport.send([OutboundRecord(i, encode_event(e), "cafe", e.get("camera_id")) for i, e in enumerate(events_)])
    finally:
        transport.close()


def bad_heartbeat(camera: str) -> bytes:
    document = edge_heartbeat(camera)
    document["fps"] = "fast"  # text where the contract says number: the page's JS would call toFixed on it
    return json.dumps(document).encode()


def heartbeat_without(camera: str, key: str) -> bytes:
    document = edge_heartbeat(camera)
    del document[key]
    return json.dumps(document).encode()


def raw_append(log_dir: Path, payloads: list[bytes]) -> None:
    with LocalLog(log_dir) as log:
        log.append(payloads)


def test_a_malformed_heartbeat_is_skipped_and_counted_and_the_good_ones_are_read(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    edge_append(log_dir, [edge_heartbeat("door")])
    raw_append(log_dir, [bad_heartbeat("door"), b'{"schema": "camera_heartbeat"', b"\xff\xfe"])
    edge_append(log_dir, [edge_heartbeat("terrace")])
    tail = LogTail(log_dir)
    read = tail.read()
    assert [e["camera_id"] for e in read] == ["door", "terrace"]
    assert tail.skipped.count == 3
    assert tail.skipped.last is not None and "offset 3" in tail.skipped.last
    assert tail.read() == []  # nothing read twice, nothing skipped twice
    assert tail.skipped.count == 3


def test_the_dashboard_starts_and_keeps_serving_over_a_log_with_a_malformed_heartbeat(tmp_path: Path) -> None:
    (tmp_path / "stream").mkdir()
    log_dir = tmp_path / "log"
    edge_append(log_dir, [edge_heartbeat("door")])
    raw_append(log_dir, [bad_heartbeat("door"), heartbeat_without("door", "spool_depth")])
    for _ in range(2):  # a restart reads the same tail again: it must start again too
        app = create_app(state_for(tmp_path, None), poll_s=0.05)
        with TestClient(app, base_url=LOCAL) as client:
            snapshot = client.get("/api/snapshot").json()
            assert client.get("/").status_code == 200
        door = next(c for c in snapshot["cameras"] if c["id"] == "door")
        assert door["health"]["fps"] == 0.0 and door["health"]["spool_depth"] == 4
        assert snapshot["skipped"] == 2


def test_a_damaged_line_in_the_runners_outputs_is_skipped_and_counted(tmp_path: Path) -> None:
    from tests.onebox.events import window

    stream = tmp_path / "stream"
    stream.mkdir()
    broken = window(None, 15, 0.3)
    del broken["window_end_ms"]
    lines = [json.dumps(broken), json.dumps(window(None, 15, 0.4, tracks=9)), "{not json"]
    (stream / "windows.jsonl").write_text("\n".join(lines) + "\n\n")
    state = state_for(tmp_path, None)
    state.poll()
    snapshot = state.snapshot()
    assert snapshot["site"]["windows"][15]["net"] == pytest.approx(0.4)
    assert snapshot["skipped"] == 2
    assert state.skipped.last is not None and "windows.jsonl: line at byte" in state.skipped.last


def test_the_demos_tally_skips_what_the_contract_refuses(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    edge_append(log_dir, [edge_heartbeat("door"), edge_heartbeat("door")])
    raw_append(log_dir, [bad_heartbeat("door")])
    skipped = Skipped()
    assert len(list(events(log_dir, skipped))) == 2
    assert skipped.count == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.one_of(st.binary(min_size=1, max_size=60),
                                   st.sampled_from([b"{}", b"[]", b"null", b"1e999"])), min_size=1, max_size=6),
       before=st.integers(0, 3), after=st.integers(0, 3))
def test_any_junk_between_good_records_is_skipped_once_and_never_fatal(tmp_path_factory: pytest.TempPathFactory,
                                                                       payloads: list[bytes], before: int,
                                                                       after: int) -> None:
    log_dir = tmp_path_factory.mktemp("log")
    one_line = [p.replace(b"\n", b" ").replace(b"\r", b" ") for p in payloads]
    junk = [p if p.strip() else b"?" for p in one_line]  # what the log's writer accepts: one non-blank line
    if before:
        edge_append(log_dir, [edge_heartbeat(f"c{i}") for i in range(before)])
    raw_append(log_dir, junk)
    if after:
        edge_append(log_dir, [edge_heartbeat(f"d{i}") for i in range(after)])
    tail = LogTail(log_dir)
    read = tail.read()
    assert [e["camera_id"] for e in read] == [f"c{i}" for i in range(before)] + [f"d{i}" for i in range(after)]
    assert tail.skipped.count == len(junk)
