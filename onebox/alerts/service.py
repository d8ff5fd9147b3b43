"""The box's alert sender: follows the alarm files, turns each state change into a message, sends it.

It reads what the box already writes: the stream runner's ``alarms.jsonl`` and ``windows.jsonl``
(the window an alarm was judged on gives its net score, interval and customers) and the box's
``run/camera-alarms.jsonl``. It runs on its own thread in `moodlens up`: a slow or refusing mail
server delays messages, never the box's loop, and never the stream runner (another process).
Reading positions are kept in the outbox's ledger, so a restart reads on where it stopped; a first
start begins at the files' ends (the history before alerts were configured is not sent).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from onebox.alerts.outbox import Message, Outbox
from stream.jsonl import read_jsonl
from stream.sinks.alert_text import Names, alarm_text, report_text, window_key

log = logging.getLogger("moodlens.alerts")
WINDOW_MEMORY = 5000  # recent windows kept to describe the alarms judged on them
CHUNK_BYTES = 8 * 1024 * 1024


class AlertService:
    def __init__(self, outbox: Outbox, names: Names, alarm_files: list[Path], windows_file: Path | None,
                 report_link: Callable[[Path], str] = lambda path: "") -> None:
        self.outbox, self.names = outbox, names
        self.alarm_files, self.windows_file = alarm_files, windows_file
        self.report_link = report_link
        self._windows: OrderedDict[tuple[str, str, int, int], dict[str, Any]] = OrderedDict()
        self._offsets = dict(outbox.offsets)
        self._first = not outbox.offsets
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Reads what is new, queues its messages, sends what is due; returns the deliveries made."""
        with self._lock:
            if self.windows_file is not None:
                for window in self._read(self.windows_file):
                    if window.get("schema") == "sentiment_window":
                        key = window_key(window["site_id"], window["camera_id"], window["window_minutes"],
                                         window["window_end_ms"])
                        self._windows[key] = window
                        while len(self._windows) > WINDOW_MEMORY:
                            self._windows.popitem(last=False)
            for path in self.alarm_files:
                for alarm in self._read(path):
                    if alarm.get("schema") == "sentiment_alarm":
                        self._offer(alarm)
            self._first = False
            self.outbox.save_offsets(self._offsets)
            return self.outbox.pump()

    def report_ready(self, report: Path) -> None:
        """The weekly report was written: its message, with the report attached and linked."""
        title, body = report_text(self.names.site, report.name, self.report_link(report),
                                  int(report.stat().st_mtime * 1000), self.names.timezone)
        with self._lock:
            self.outbox.offer(Message(f"report:{report.name}:{int(report.stat().st_mtime)}", "report", "REPORT",
                                      title, body, (str(report),)))

    def _offer(self, alarm: Mapping[str, Any]) -> None:
        window = self._window_for(alarm)
        group = f"{alarm['rule']}/{alarm['site_id']}/{alarm.get('camera_id') or ''}"
        raised = self.outbox.raised_ms(group) if alarm["state"] == "OK" else None
        title, body = alarm_text(alarm, self.names, window, raised)
        decided = self.outbox.offer(Message(alarm["event_id"], group, alarm["state"], title, body,
                                            time_ms=alarm["event_time_ms"]))
        log.info("alarm %s %s %s: %s", alarm["rule"], alarm["state"], alarm.get("camera_id") or alarm["site_id"],
                 decided)

    def _window_for(self, alarm: Mapping[str, Any]) -> dict[str, Any] | None:
        if alarm["rule"] not in ("low_sentiment", "sentiment_drop"):
            return None
        for (site, camera, _minutes, end), window in reversed(self._windows.items()):
            if site == alarm["site_id"] and camera == (alarm.get("camera_id") or "") and end == alarm["event_time_ms"]:
                return window
        return None

    def _read(self, path: Path) -> list[dict[str, Any]]:
        name = str(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            self._offsets.setdefault(name, 0)
            return []
        if name not in self._offsets:
            start = size if self._first else 0  # a file that appears later is read from its start
            if self._first and path == self.windows_file:
                start = max(0, size - CHUNK_BYTES)  # some recent windows, to describe the next alarms
            self._offsets[name] = start
        offset = min(self._offsets[name], size)  # the stream runner cut back an uncommitted tail
        try:
            documents, end = read_jsonl(path, offset)
        except ValueError:  # a cut line from a mid-file start: skip to the next line
            with path.open("rb") as handle:
                handle.seek(offset)
                skipped = len(handle.readline())
            documents, end = read_jsonl(path, offset + skipped)
        self._offsets[name] = end
        return documents

    # ------------------------------------------------------------- thread

    def start(self, every_s: float = 2.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll()
                except Exception:  # the sender must outlive one bad file or message
                    log.exception("alerts: poll failed; trying again in %.0f s", every_s)
                self._stop.wait(every_s)

        self._thread = threading.Thread(target=loop, name="alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        with self._lock:
            self.outbox.pump()  # one last try for what is due; the rest waits in the ledger

    def wait_idle(self, timeout_s: float) -> bool:
        """Tests and shutdown: until nothing is pending (True) or the time is up (False)."""
        deadline = time.monotonic() + timeout_s
        while self.outbox.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.outbox.pending
