"""The box's messages of an alarm judged on a window readers get hidden: what the real stream runner
writes, sent through real SMTP (aiosmtpd) and a real webhook, shows no score of that window."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from locallog import LocalLog
from stream.embedded import ALARMS as ALARMS_FILE
from stream.embedded import WINDOWS, EmbeddedRunner, RunnerConfig
from stream.jsonl import dumps, iter_jsonl
from tests.onebox.alerts.conftest import Hook, Inbox
from tests.onebox.alerts.test_delivery import settle, site, started_service
from tests.stream.host.test_sites import ALARMS, ENGINE
from tests.stream.test_published import _sour_site_with_a_lone_customer

RENAMED = {"cafe-1": "cafe-7", "cam-a": "door", "cam-b": "till"}


def box_crowd() -> list[dict[str, Any]]:
    """The sour door beside a till with one customer at a time, at the box's site."""
    return [{**e, "site_id": RENAMED[e["site_id"]], "camera_id": RENAMED[e["camera_id"]]}
            for e in _sour_site_with_a_lone_customer()]


def test_an_alarm_on_a_hidden_window_reaches_email_and_webhook_without_its_score(
        tmp_path: Path, smtp: tuple[Inbox, str], webhook: tuple[Hook, str]) -> None:
    inbox, mail_url = smtp
    hook, hook_url = webhook
    config = site(tmp_path, [mail_url, hook_url])
    layout, service = started_service(config)
    LocalLog(tmp_path / "log").append([dumps(e) for e in box_crowd()])
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), layout.stream,
                            RunnerConfig(engine=ENGINE, alarms=ALARMS, check_time=False))
    runner.drain(flush=True)
    runner.close()
    windows = list(iter_jsonl(layout.stream / WINDOWS))
    hidden = {w["window_end_ms"]: w for w in windows if w["camera_id"] == "door" and w["insufficient_data"]
              and w["window_minutes"] == ALARMS.window_minutes and w["tracks"] >= ENGINE.min_tracks}
    alarms = [a for a in iter_jsonl(layout.stream / ALARMS_FILE) if a["camera_id"] == "door"]
    told = [a for a in alarms if a["event_time_ms"] in hidden]
    assert told and all(a["value"] is None for a in told)  # what the stream runner wrote: the box reads it so
    settle(service, lambda: len(inbox.messages) == len(alarms) and len(hook.posts) == len(alarms))
    texts = {m["Subject"]: text for m, text in zip(inbox.messages, inbox.texts(), strict=True)}
    raised = texts["ALARM at Café Central, Front door: customers look unhappy"]
    window = hidden[told[0]["event_time_ms"]]
    assert f"the last {ALARMS.window_minutes} minutes: score not shown ({window['tracks']} customers)" in raised
    assert f"In the {ALARMS.window_minutes} minutes to" not in raised and not re.search(r"over \d+ customers", raised)
    assert "Customers at Front door have looked unhappy since about" in raised
    post = next(p for p in hook.posts if p["title"] == "ALARM at Café Central, Front door: customers look unhappy")
    assert "score not shown" in post["message"] and not re.search(r"over \d+ customers", post["message"])
