"""The dashboard's HTTP side: a token off loopback, no images, snapshots folded from the runner's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from onebox.dashboard.app import create_app
from onebox.dashboard.server import PortInUseError, bind, state_for
from tests.onebox.events import alarm, heartbeat, window

LOCAL = "http://127.0.0.1:8765"  # the Host a browser on the box sends


def _state(tmp_path: Path) -> Path:
    stream = tmp_path / "stream"
    stream.mkdir(parents=True)
    (stream / "windows.jsonl").write_text(json.dumps(window(None, 15, 0.4, tracks=9)) + "\n"
                                          + json.dumps(window("door", 5, None, tracks=2)) + "\n")
    (stream / "alarms.jsonl").write_text(json.dumps(alarm("door", "ALARM")) + "\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "week-48.html").write_text("<h1>week</h1>")
    (tmp_path / "reports" / "chart.png").write_bytes(b"\x89PNG")
    return tmp_path


def test_loopback_needs_no_token_and_the_snapshot_has_scores_and_alarms(tmp_path: Path) -> None:
    app = create_app(state_for(_state(tmp_path), None))
    with TestClient(app, base_url=LOCAL) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "img-src 'none'" in page.headers["content-security-policy"]
        snap = client.get("/api/snapshot").json()
    assert snap["site"]["windows"]["15"]["net"] == pytest.approx(0.4)
    door = next(c for c in snap["cameras"] if c["id"] == "door")
    assert door["windows"]["5"]["insufficient"] is True
    assert [a["rule"] for a in snap["open_alarms"]] == ["low_sentiment"]
    assert [r["name"] for r in snap["reports"]] == ["week-48.html"]  # the image is not listed


def test_any_other_address_requires_the_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(state_for(_state(tmp_path), None), host="0.0.0.0")
    app = create_app(state_for(tmp_path, None), host="0.0.0.0", token="s3cret-token-8d2f1c")
    with TestClient(app, base_url=LOCAL) as client:
        for path in ("/", "/api/snapshot", "/static/app.js", "/reports/week-48.html"):
            assert client.get(path).status_code == 401, path
        assert client.get("/api/snapshot", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/snapshot", headers={"Authorization": "Bearer s3cret-token-8d2f1c"}).status_code == 200
        assert client.get("/?token=s3cret-token-8d2f1c").status_code == 200
        assert client.get("/api/snapshot").status_code == 200  # the page's cookie now carries it


def test_never_an_image(tmp_path: Path) -> None:
    app = create_app(state_for(_state(tmp_path), None))
    with TestClient(app, base_url=LOCAL) as client:
        responses = [client.get(p) for p in ("/", "/static/app.js", "/static/app.css", "/api/snapshot",
                                             "/reports/week-48.html", "/reports/chart.png", "/favicon.ico",
                                             "/static/../reports/chart.png")]
        page = responses[0].text
    assert not any(r.headers.get("content-type", "").startswith("image/") for r in responses)
    assert responses[5].status_code == 404
    assert "<img" not in page and "<img" not in responses[1].text


def test_heartbeats_from_the_log_show_camera_health(tmp_path: Path) -> None:
    from locallog import LocalLog

    root = _state(tmp_path)
    with LocalLog(root / "log") as log:
        log.append([json.dumps(heartbeat("door", fps=12.5, spool=3)).encode()])
    state = state_for(root, None)
    state.poll()
    door = next(c for c in state.snapshot()["cameras"] if c["id"] == "door")
    assert door["health"]["fps"] == 12.5 and door["health"]["spool_depth"] == 3
    assert door["tracks_now"] == 1


def test_a_busy_port_gets_a_clear_message() -> None:
    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(PortInUseError, match="already in use"):
            bind("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


def test_a_long_history_is_read_from_its_recent_end_in_bounded_chunks(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from onebox.dashboard import state as state_module

    monkeypatch.setattr(state_module, "START_TAIL_BYTES", 4000)
    monkeypatch.setattr(state_module, "CHUNK_BYTES", 3000)
    root = tmp_path
    (root / "stream").mkdir()
    lines = [json.dumps(window(None, 5, round(i / 100, 2), end_ms=1_700_000_000_000 + i * 60_000)) + "\n"
             for i in range(60)]
    (root / "stream" / "windows.jsonl").write_text("".join(lines))
    state = state_for(root, None)
    state.poll()
    first = state.offsets["windows.jsonl"]
    assert 0 < first - (sum(map(len, lines)) - 4000) <= 3000  # started near the end, read one chunk
    while state.poll():
        pass
    assert state.snapshot()["site"]["windows"][5]["net"] == pytest.approx(0.59)  # the last one


def test_the_lakes_forecast_is_drawn_when_there_is_one(tmp_path: Path) -> None:
    root = _state(tmp_path)
    state = state_for(root, None, lake=tmp_path / "elsewhere")
    assert state.snapshot()["forecast"] is None
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "forecast.json").write_text("[[1700000000000, 0.25], [1700003600000, 0.3]]")
    assert state.snapshot()["forecast"] == [[1700000000000, 0.25], [1700003600000, 0.3]]


def test_model_drift_from_the_lake_shows_beside_each_cameras_health(tmp_path: Path) -> None:
    root = _state(tmp_path)
    state = state_for(root, None, lake=tmp_path / "lake")
    state.poll()
    assert [c["drift"] for c in state.snapshot()["cameras"]] == [None]
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "drift.json").write_text(json.dumps(
        {"door": {"day": "2026-11-29", "psi": 0.41, "verdict": "DRIFT"}}))
    door = next(c for c in state.snapshot()["cameras"] if c["id"] == "door")
    assert door["drift"] == {"day": "2026-11-29", "psi": 0.41, "verdict": "DRIFT"}
