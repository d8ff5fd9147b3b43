"""The per-visit table of `edge run --summary`, built from the track_end events passing through."""

from __future__ import annotations

from edge.visits import VisitRecorder, visit_table
from tests.edge.conftest import ListSink

T0 = 1_790_000_000_000


def end(track: str, at_ms: int, duration_ms: int, top: str, valence: float) -> dict:
    return {"kind": "track_end", "track_id": track, "event_time_ms": at_ms, "duration_ms": duration_ms,
            "top_class": top, "valence": valence}


def test_every_event_passes_through_and_each_visit_is_kept():
    inner = ListSink()
    recorder = VisitRecorder(inner)
    events = [{"kind": "track_update", "track_id": "a"}, end("a", T0 + 5_000, 4_000, "happy", 0.6),
              {"kind": "camera_heartbeat"}, end("b", T0 + 3_000, 2_500, "sad", -0.41)]
    for event in events:
        recorder.publish(event)
    assert inner.events == events
    assert [(v.track_id, v.start_ms, v.duration_ms) for v in recorder.visits] == [("a", T0 + 1_000, 4_000),
                                                                                  ("b", T0 + 500, 2_500)]
    assert recorder.events is inner.events  # the wrapped sink's attributes show through


def test_the_table_lists_visits_in_start_order_with_times_from_the_first_frame():
    recorder = VisitRecorder(ListSink())
    recorder.publish(end("a", T0 + 65_000, 4_000, "happy", 0.6))
    recorder.publish(end("b", T0 + 3_000, 2_500, "sad", -0.41))
    lines = visit_table(recorder.visits, T0).splitlines()
    assert lines[0].split() == ["track", "start", "end", "duration", "main", "expression", "mean", "valence"]
    assert lines[2].split() == ["b", "0:00.5", "0:03.0", "2.5", "s", "sad", "-0.41"]
    assert lines[3].split() == ["a", "1:01.0", "1:05.0", "4.0", "s", "happy", "+0.60"]
    assert lines[-1] == "2 visits"


def test_no_visits_says_so():
    assert "no visits" in visit_table([], None)
