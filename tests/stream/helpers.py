"""Event builders and strategies for the stream tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from schemas.expressions import EXPRESSIONS, VALENCE
from stream.ids import stable_event_id
from tests.schemas.events import camera_heartbeat, face_expression

T0 = 1_790_000_040_000 // 60_000 * 60_000  # a minute boundary


def face(t: int, track: str = "t1", camera: str = "cam-a", site: str = "cafe-1", top: str = "happy",
         usable: bool = True, kind: str = "track_update", n: int = 0, **extra: Any) -> dict[str, Any]:
    """A valid face_expression whose probabilities put all mass on ``top``."""
    probabilities = {name: (1.0 if name == top else 0.0) for name in EXPRESSIONS}
    event = face_expression(
        event_id=stable_event_id(t, site, camera, track, n, kind), event_time_ms=t, site_id=site,
        camera_id=camera, track_id=track, kind=kind, top_class=top, valence=VALENCE[top],
        probabilities=probabilities,
        quality={"face_px": 96, "sharpness": 100.0, "brightness": 120.0, "usable": usable}, **extra)
    if kind == "track_end":
        event.update(duration_ms=1000, frame_count=10)
    return event


def beat(t: int, camera: str = "cam-a", site: str = "cafe-1", n: int = 0) -> dict[str, Any]:
    return camera_heartbeat(event_id=stable_event_id(t, site, camera, "hb", n), event_time_ms=t, site_id=site,
                            camera_id=camera)


@st.composite
def event_streams(draw: st.DrawFn, max_minutes: int = 12, max_events: int = 60) -> list[dict[str, Any]]:
    """Face events and heartbeats over a few cameras, sites and tracks, in event-time order."""
    count = draw(st.integers(1, max_events))
    events = []
    for i in range(count):
        t = T0 + draw(st.integers(0, max_minutes * 60_000 - 1))
        site = draw(st.sampled_from(["s1", "s2"]))
        camera = draw(st.sampled_from(["c1", "c2"]))
        if draw(st.integers(0, 9)) == 0:
            events.append(beat(t, camera, site, i))
            continue
        events.append(face(t, track=draw(st.sampled_from(["a", "b", "c", "d", "e"])), camera=camera,
                           site=site, top=draw(st.sampled_from(EXPRESSIONS)),
                           usable=draw(st.integers(0, 7)) > 0,
                           kind=draw(st.sampled_from(["track_update"] * 4 + ["track_end"])), n=i))
    events.sort(key=lambda e: (e["event_time_ms"], e["event_id"]))
    return events
