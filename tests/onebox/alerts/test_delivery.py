"""Alarms reach people: real SMTP (aiosmtpd) and a real webhook receiver, both on loopback."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from onebox.alerts.service import AlertService
from onebox.alerts.wiring import LEDGER, alert_service
from onebox.box import Box
from onebox.camera_watch import CAMERA_ALARMS
from onebox.children import edge_spec
from onebox.config import SiteConfig, from_values
from onebox.layout import Layout
from onebox.processes import RealClock, SubprocessSpawner
from stream import alarm_words
from stream.embedded import ALARMS, WINDOWS
from stream.ids import stable_event_id
from tests.onebox.alerts.conftest import Hook, Inbox

T = 1_796_000_100_000 // 60_000 * 60_000


def site(tmp_path: Path, urls: list[str], **alerts: Any) -> SiteConfig:
    return from_values({"site": {"id": "cafe-7", "state_dir": str(tmp_path / "s"), "name": "Café Central",
                                 "timezone": "Europe/Paris"},
                        "alerts": {"urls": urls,
                                   "min_interval_minutes": 30, **alerts}},
                       [{"id": "door", "source": "0", "name": "Front door"}])


def started_service(config: SiteConfig, poll: bool = True) -> tuple[Layout, AlertService]:
    """The box's folders made and its alert service as `up` starts it; ``poll``: its first poll done (a first
    start reads the stream's files from their ends)."""
    layout = Layout(config.state_dir)
    layout.make()
    service = alert_service(config, layout, CAMERA_ALARMS)
    assert service is not None
    if poll:
        service.poll()
    return layout, service


def alarm(rule: str, state: str, t: int, camera: str | None = "door", reason: str = "net score low") -> dict:
    return {"schema": "sentiment_alarm", "schema_version": "1.0",
            "event_id": stable_event_id(t, "sentiment_alarm", rule, state, "cafe-7", camera or ""),
            "site_id": "cafe-7", "event_time_ms": t, "camera_id": camera, "rule": rule, "state": state,
            "value": -0.41, "threshold": -0.2, "reason": reason}


def window(t: int, camera: str | None = "door") -> dict:
    return {"schema": "sentiment_window", "schema_version": "1.0", "event_id": "w" + str(t), "site_id": "cafe-7",
            "event_time_ms": t, "camera_id": camera, "window_start_ms": t - 900_000, "window_end_ms": t,
            "window_minutes": 15, "tracks": 23, "faces": 400, "low_quality_faces": 3, "insufficient_data": False,
            "shares": {}, "mean_valence": -0.2, "valence_ci": None, "net_score": -0.41,
            "net_score_ci": {"low": -0.6, "high": -0.22}}


def append(path: Path, *documents: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps(document) + "\n")


def settle(service: Any, until: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        service.poll()
        if until():
            return
        time.sleep(0.1)


def test_a_raise_and_its_clear_reach_email_and_webhook_once_in_plain_words(
        tmp_path: Path, smtp: tuple[Inbox, str], webhook: tuple[Hook, str]) -> None:
    inbox, mail_url = smtp
    hook, hook_url = webhook
    config = site(tmp_path, [mail_url, hook_url])
    layout, service = started_service(config)
    append(layout.stream / WINDOWS, window(T))
    said = alarm_words.low_raised(alarm_words.place("cafe-7", "door"), "14:15 CET", 30, -0.41, 23, 15, -0.2)
    append(layout.stream / ALARMS, alarm("low_sentiment", "ALARM", T, reason=said))
    settle(service, lambda: len(inbox.messages) == 1 and len(hook.posts) == 1)
    text = inbox.texts()[0]
    assert inbox.messages[0]["Subject"] == "ALARM at Café Central, Front door: customers look unhappy"
    for words in ("Café Central, Front door,", "(CET)", "Customers at Front door have looked unhappy since about 14:15",
                  "-0.41 over 23 customers", "for every 100 customers, 41 more looked unhappy than happy",
                  "Live page: http://127.0.0.1:8765/"):
        assert words in text, words
    assert "camera door" not in text  # the camera by its name, in the reason too
    lines = text.splitlines()  # one fact a line, as written: not run together into one paragraph
    assert lines[0].startswith("Café Central, Front door, ") and lines[0].endswith("(CET):")
    assert lines[1].startswith("Customers at Front door") and lines[-1] == "Live page: http://127.0.0.1:8765/"
    assert hook.posts[0]["title"] == inbox.messages[0]["Subject"]
    assert hook.posts[0]["type"] == "failure"  # a chat shows a raise in red, its clear in green
    append(layout.stream / ALARMS, alarm("low_sentiment", "OK", T + 1_800_000, reason="net score back"))
    settle(service, lambda: len(inbox.messages) == 2 and len(hook.posts) == 2)
    assert inbox.messages[1]["Subject"].startswith("Resolved at Café Central, Front door")
    assert "Lasted 30 minutes, since " in inbox.texts()[1] and hook.posts[1]["type"] == "success"
    # a restart: the stream runner rewrites its uncommitted tail (same alarms, same ids), the box raises again
    restarted = alert_service(config, layout, CAMERA_ALARMS)
    assert restarted is not None
    append(layout.stream / ALARMS, alarm("low_sentiment", "OK", T + 1_800_000, reason="net score back"))
    restarted.poll()
    time.sleep(0.5)
    restarted.poll()
    assert len(inbox.messages) == 2 and len(hook.posts) == 2
    ledger = json.loads((layout.run / LEDGER).read_text())
    assert ledger["pending"] == [] and len(ledger["sent"]) == 2


def test_a_flapping_camera_sends_one_message_and_a_refusing_server_is_retried(
        tmp_path: Path, smtp: tuple[Inbox, str], caplog: pytest.LogCaptureFixture) -> None:
    inbox, mail_url = smtp
    config = site(tmp_path, [mail_url])
    layout, service = started_service(config, poll=False)
    service.outbox.first_retry_s = 0.2
    service.poll()
    inbox.refuse = True
    for i in range(20):  # down and up every 10 seconds
        append(layout.run / CAMERA_ALARMS, alarm("camera_silent", "ALARM", T + i * 20_000, reason="no heartbeat"),
               alarm("camera_silent", "OK", T + i * 20_000 + 10_000, reason="back"))
    with caplog.at_level(logging.WARNING, logger="moodlens.alerts"):
        settle(service, lambda: inbox.refused >= 2, timeout_s=20)
    assert inbox.refused >= 2 and inbox.messages == []
    assert "not delivered (try 1)" in caplog.text
    inbox.refuse = False
    settle(service, lambda: not service.outbox.pending, timeout_s=20)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == ["ALARM at Café Central, Front door: the camera is not working",
                        "Resolved at Café Central, Front door: the camera works again"]  # 2, not 40
    # it stops for good inside the interval: told when the interval ends, with the raises not sent
    append(layout.run / CAMERA_ALARMS, alarm("camera_silent", "ALARM", T + 500_000, reason="no heartbeat"))
    service.poll()
    assert len(inbox.messages) == 2
    service.outbox.groups["camera_silent/cafe-7/door"]["alarm_at"] -= 3600  # the interval is over
    settle(service, lambda: len(inbox.messages) == 3, timeout_s=20)
    assert inbox.messages[2]["Subject"] == subjects[0]
    assert "Raised 19 more times before this" in inbox.texts()[-1]


def real_box(tmp_path: Path, mail_url: str, source: str, **thresholds: Any) -> Box:
    """A box with one camera "door" at `source`, its edge a real subprocess, its alarms mailed to `mail_url`."""
    values: dict[str, Any] = {"site": {"id": "cafe-7", "state_dir": str(tmp_path / "s"), "name": "Café Central"},
                              "alerts": {"urls": [mail_url]}}
    if thresholds:
        values["thresholds"] = thresholds
    config = from_values(values, [{"id": "door", "source": source, "name": "Front door"}])
    return Box(config, SubprocessSpawner(), RealClock(), jobs_enabled=False,
               specs=[edge_spec(config, config.cameras[0], Layout(config.state_dir))])


def step_until_mail(box: Box, inbox: Inbox, started: float, limit_s: float) -> float:
    """Steps the started box until a message is in the inbox or `limit_s` have passed since `started`:
    the seconds since `started`."""
    while time.monotonic() - started < limit_s and not inbox.messages:
        box.step()
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_missing_camera_file_reaches_the_inbox_with_its_reason(
        tmp_path: Path, smtp: tuple[Inbox, str]) -> None:
    """A real edge process, a real box, a real SMTP server: the time from start to the message."""
    inbox, mail_url = smtp
    box = real_box(tmp_path, mail_url, str(tmp_path / "door.mp4"))
    started = time.monotonic()
    box.start()
    try:
        step_until_mail(box, inbox, started, limit_s=120)
    finally:
        box.shutdown(grace_s=5)
    elapsed = time.monotonic() - started
    assert [m["Subject"] for m in inbox.messages] == ["ALARM at Café Central, Front door: the camera is not working"]
    assert "is not a file" in inbox.texts()[0] and "exit 2" in inbox.texts()[0]
    print(f"missing camera file: message in the inbox {elapsed:.1f} s after the box started")


def test_the_weekly_report_is_sent_attached_when_the_report_job_ends(
        tmp_path: Path, smtp: tuple[Inbox, str]) -> None:
    import datetime as dt

    from tests.onebox.test_supervisor import FakeClock, FakeSpawner

    inbox, mail_url = smtp
    config = site(tmp_path, [mail_url])
    spawner = FakeSpawner()
    now = [dt.datetime(2026, 12, 7, 5, 59)]
    box = Box(config, spawner, FakeClock(), now=lambda: now[0])
    box.start()
    now[0] = dt.datetime(2026, 12, 7, 6, 1)  # Monday 06:00: the report is due
    box.step()
    assert "report" in box.supervisor.specs
    config.reports_dir.mkdir(parents=True, exist_ok=True)
    (config.reports_dir / "week-49.html").write_text("<h1>Week 49</h1><p>net score +0.31</p>")
    (config.reports_dir / "week-49.csv").write_text("a,b\n")
    made = dt.datetime(2026, 12, 7, 5, 1, tzinfo=dt.UTC).timestamp()  # 06:01 in Paris
    os.utime(config.reports_dir / "week-49.html", (made, made))
    spawner.spawned[-1].code = 0  # the report job ends well
    box.step()
    assert box.alerts is not None
    settle(box.alerts, lambda: len(inbox.messages) == 1)
    box.shutdown(grace_s=1)
    message = inbox.messages[0]
    # every week's report has the same file name: the date tells this week's from last week's
    assert message["Subject"] == "Weekly report for Café Central, Mon 07 Dec 2026"
    assert "made Mon 07 Dec 2026, 06:01 (CET), is attached (week-49.html)" in inbox.texts()[0]
    assert "http://127.0.0.1:8765/reports/week-49.html" in inbox.texts()[0]
    attached = [part.get_filename() for part in message.iter_attachments()]
    assert attached == ["week-49.html"]


def test_an_smtp_server_that_hangs_is_retried_and_never_blocks_the_box(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A server that accepts the connection and never answers: the box's loop goes on, the message waits."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    port = listener.getsockname()[1]
    config = site(tmp_path, [f"mailto://127.0.0.1:{port}?from=a@example.com&to=b@example.com&mode=insecure"])
    layout, service = started_service(config)
    append(layout.run / CAMERA_ALARMS, alarm("camera_silent", "ALARM", T, reason="no heartbeat"))
    with caplog.at_level(logging.WARNING, logger="moodlens.alerts"):
        service.start(every_s=0.2)
        started = time.monotonic()
        loops = 0
        while time.monotonic() - started < 3:  # the box's own loop, meanwhile
            loops += 1
            time.sleep(0.01)
        assert loops > 100  # not blocked
        deadline = time.monotonic() + 90
        while "not delivered (try 1)" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.2)
        service.stop(timeout_s=60)
    listener.close()
    for connection in held:
        connection.close()
    assert "not delivered (try 1)" in caplog.text
    assert len(service.outbox.pending) == 1  # kept for the next try, in the ledger too
    assert json.loads((layout.run / LEDGER).read_text())["pending"][0]["tries"] >= 1


@pytest.mark.slow
def test_a_live_camera_that_never_starts_reaches_the_inbox_after_silent_minutes(
        tmp_path: Path, smtp: tuple[Inbox, str]) -> None:
    """A camera URL nothing answers: its edge is retried (exit 75) and, silent_minutes after the box
    started, the alarm with the edge's reason reaches the inbox."""
    from tests.onebox.alerts.conftest import free_port

    inbox, mail_url = smtp
    box = real_box(tmp_path, mail_url, f"rtsp://127.0.0.1:{free_port()}/cam", silent_minutes=1)
    started = time.monotonic()
    box.start()
    try:
        elapsed = step_until_mail(box, inbox, started, limit_s=150)
        restarts = box.supervisor.status["edge-door"].restarts
    finally:
        box.shutdown(grace_s=5)
    assert [m["Subject"] for m in inbox.messages] == ["ALARM at Café Central, Front door: the camera is not working"]
    text = inbox.texts()[0]
    assert "keeps failing (exit 75) and is being restarted" in text and "cannot open source rtsp://" in text
    assert restarts >= 1  # a live camera is retried
    assert 60 <= elapsed <= 60 + 10
    print(f"live camera that never starts: message in the inbox {elapsed:.1f} s after the box started "
          f"(silent_minutes 1), {restarts} edge restarts meanwhile")
