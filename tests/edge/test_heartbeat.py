"""Heartbeats: valid camera_heartbeat v1 events with rates since the previous one and the spool's gauges."""

from __future__ import annotations

import pytest

from edge.heartbeat import FrameHeartbeats, HeartbeatEmitter, PipelineCounters
from schemas.validation import validate_event


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Gauge:
    def __init__(self, depth: int, dropped: int) -> None:
        self._depth, self.dropped_count = depth, dropped

    def depth(self) -> int:
        return self._depth


def emitter(clock: Clock, gauge: Gauge | None = None, interval_s: float = 10.0) -> HeartbeatEmitter:
    return HeartbeatEmitter("site-1", "cam-1", gauge or Gauge(3, 7), lambda: "2.1.0", "0.1.0",
                            interval_s=interval_s, monotonic=clock, wall_ms=lambda: 1_760_000_000_000)


@pytest.mark.parametrize(("elapsed", "before", "after", "fps", "faces"), [
    (10.0, PipelineCounters(0, 0, 0), PipelineCounters(150, 40, 2), 15.0, 40),
    (4.0, PipelineCounters(100, 10, 1), PipelineCounters(110, 10, 0), 2.5, 0),
    (5.0, PipelineCounters(500, 90, 1), PipelineCounters(20, 3, 1), 4.0, 3),  # pipeline restarted
])
def test_fps_and_faces_are_since_the_previous_heartbeat(elapsed, before, after, fps, faces):
    clock = Clock()
    beats = emitter(clock)
    beats.build(before)
    clock.now += elapsed
    event = beats.build(after)
    assert (event["fps"], event["faces"], event["open_tracks"]) == (fps, faces, after.open_tracks)


def test_a_heartbeat_is_a_valid_contract_event_with_spool_model_and_uptime():
    clock = Clock()
    beats = emitter(clock, Gauge(depth=12, dropped=4))
    clock.now += 30.5
    event = beats.build(PipelineCounters(300, 20, 1))

    assert validate_event(dict(event)) == []
    assert (event["spool_depth"], event["dropped_count"]) == (12, 4)
    assert (event["model_version"], event["edge_version"], event["uptime_s"]) == ("2.1.0", "0.1.0", 30.5)
    assert (event["site_id"], event["camera_id"], event["schema_version"]) == ("site-1", "cam-1", "1.0")


@pytest.mark.parametrize(("elapsed", "due"), [(0.0, False), (9.99, False), (10.0, True), (60.0, True)])
def test_due_once_the_interval_has_passed_since_the_last_one(elapsed, due):
    clock = Clock()
    beats = emitter(clock)
    clock.now += elapsed
    assert beats.due() is due
    beats.build(PipelineCounters(0, 0, 0))
    assert beats.due() is False


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        emitter(Clock(), interval_s=0)


class Collecting:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def publish(self, event: dict) -> None:
        self.events.append(event)


def frame_beats(sink: Collecting, interval_s: float = 10.0) -> FrameHeartbeats:
    return FrameHeartbeats("site-1", "cam-1", Gauge(2, 1), lambda: "2.1.0", "0.1.0", interval_s, sink)


T0 = 1_760_000_000_000


@pytest.mark.parametrize(("times_ms", "expected"), [
    ([0, 5000, 10_000, 12_000], [0, 10_000, 12_000]),
    ([0], [0]),  # the start heartbeat; nothing new for a closing one
    ([], []),  # no frame, no timeline: nothing to report
    # a live camera's clock stepping back: heartbeats never go back in time
    ([0, 10_000, 5000, 16_000], [0, 10_000, 16_000]),
])
def test_frame_heartbeats_run_on_the_frames_time(times_ms, expected):
    sink = Collecting()
    beats = frame_beats(sink)
    for frames, time_ms in enumerate(times_ms, start=1):
        beats.on_frame(PipelineCounters(frames, frames, 1), T0 + time_ms)
    beats.finish(PipelineCounters(len(times_ms), len(times_ms), 0))
    assert [e["event_time_ms"] - T0 for e in sink.events] == expected
    assert [e["uptime_s"] for e in sink.events] == [t / 1000 for t in expected]
    assert all(validate_event(e) == [] for e in sink.events)
    assert beats.published == len(expected)


def test_a_frame_without_a_time_is_skipped():
    sink = Collecting()
    frame_beats(sink).on_frame(PipelineCounters(1, 0, 0), None)
    assert sink.events == []


def test_a_failing_publish_never_reaches_the_frame_loop(caplog):
    class Broken:
        def publish(self, event: dict) -> None:
            raise OSError("disk full")

    beats = FrameHeartbeats("site-1", "cam-1", Gauge(0, 0), lambda: "1", "0.1.0", 1.0, Broken())
    beats.on_frame(PipelineCounters(1, 0, 0), T0)
    beats.on_frame(PipelineCounters(2, 0, 0), T0 + 1000)
    assert beats.published == 0 and "heartbeat failed" in caplog.text


def test_frame_heartbeat_interval_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        frame_beats(Collecting(), interval_s=0)
