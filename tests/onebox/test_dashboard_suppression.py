"""The page never lets a viewer subtract one camera's hidden score out of the site's: a site's window
minus the cameras shown beside it covers no customer or at least min_tracks of them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from locallog import LocalLog
from onebox.dashboard.server import state_for
from schemas.privacy import DEFAULT_MIN_TRACKS
from stream.embedded import EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.jsonl import dumps
from tests.onebox.browser import chromium
from tests.onebox.test_dashboard_page import serving
from tests.stream.helpers import face

T0 = 1_790_035_200_000  # a minute boundary


def _now_minute() -> int:
    return int(time.time() // 60 * 60_000)


def _windowed(tmp_path: Path, customers: dict[str, list[str]], start_ms: int = T0) -> None:
    """Each camera's customers (their expressions), one face event each in the same minute, windowed by
    the real stream runner into the box's stream folder."""
    events = [face(start_ms + i * 1000, f"{camera}-{i}", camera=camera, site="cafe", top=top, n=i)
              for camera, tops in customers.items() for i, top in enumerate(tops)]
    LocalLog(tmp_path / "log").append([dumps(e) for e in events])
    config = RunnerConfig(engine=EngineConfig(window_minutes=(5, 15)), check_time=False)
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "stream", config)
    runner.drain(flush=True)
    runner.close()


def _snapshot(tmp_path: Path, customers: dict[str, list[str]]) -> dict[str, Any]:
    """The page's snapshot of what the real stream runner wrote for these customers (`_windowed`)."""
    _windowed(tmp_path, customers)
    state = state_for(tmp_path, None)
    state.poll()
    return state.snapshot()


def _behind_the_difference(snapshot: dict[str, Any]) -> list[tuple[Any, int, float]]:
    """Per window length: (customers, their net score times customers) that the site's window minus the
    camera windows shown beside it (same end) gives."""
    out = []
    for minutes, site in snapshot["site"]["windows"].items():
        if site["net"] is None:
            continue
        tracks, net = site["tracks"], site["net"] * site["tracks"]
        for camera in snapshot["cameras"]:
            w = camera["windows"].get(minutes)
            if w is not None and w["end_ms"] == site["end_ms"] and w["net"] is not None:
                tracks, net = tracks - w["tracks"], net - w["net"] * w["tracks"]
        out.append((minutes, tracks, net))
    return out


def test_the_site_minus_the_shown_cameras_gives_back_no_lone_customer(tmp_path: Path) -> None:
    """Six happy customers at the door, one angry on the terrace: the terrace is too few to score, and
    the door's score beside the site's would say how the terrace's one customer felt."""
    snapshot = _snapshot(tmp_path, {"door": ["happy"] * 6, "terrace": ["angry"]})
    cameras = {c["id"]: c["windows"] for c in snapshot["cameras"]}
    assert all(w["insufficient"] for w in cameras["terrace"].values())
    holding = [m for m, w in cameras["terrace"].items() if w["tracks"] == 1]  # the windows the minute falls in
    assert holding and all(snapshot["site"]["windows"][m]["tracks"] == 7 for m in holding)
    assert all(snapshot["site"]["windows"][m]["net"] is not None for m in holding)
    differences = _behind_the_difference(snapshot)
    assert {m for m, _, _ in differences} >= set(holding)
    for minutes, tracks, _ in differences:
        assert tracks == 0 or tracks >= DEFAULT_MIN_TRACKS, (minutes, tracks)
    # the door is hidden for the terrace's sake, and says so; its count stays
    for m in holding:
        door = cameras["door"][m]
        assert door["net"] is None and door["low"] is None and door["hidden"] and door["tracks"] == 6


def test_cameras_that_all_hold_enough_are_all_shown(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path, {"door": ["happy"] * 6, "terrace": ["sad"] * 5})
    shown = [w for camera in snapshot["cameras"] for w in camera["windows"].values() if w["tracks"]]
    assert len(shown) == 2 and all(w["net"] is not None and not w.get("hidden") for w in shown)
    assert all(tracks == 0 for _, tracks, _ in _behind_the_difference(snapshot))


def test_the_page_says_why_a_camera_with_enough_customers_is_hidden(tmp_path: Path) -> None:
    """In a real browser, over what the real stream runner wrote: the door's score is not on the page,
    its count and the reason are; the site's score is."""
    from playwright.sync_api import expect

    with serving(tmp_path, {"site": "cafe", "cameras": [{"id": "door"}, {"id": "terrace"}]}) as server:
        _windowed(tmp_path, {"door": ["happy"] * 6, "terrace": ["angry"] * 2}, start_ms=_now_minute() - 60_000)
        with chromium() as browser:
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_selector("#connection.live", timeout=5000)
            expect(page.locator("#cameras")).to_contain_text(
                "hidden so that another camera's few customers cannot be worked out", timeout=5000)
            cameras = page.inner_text("#cameras")
            assert "6 customers" in cameras and "+1.00" not in cameras
            assert "+0.50" in page.inner_text("#site-scores")
