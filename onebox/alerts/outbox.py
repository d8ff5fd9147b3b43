"""What is sent, to whom, and when: once per state change, rate limited, retried, remembered on disk.

Rules, per alarm group (rule, site, camera):

- Only changes of what people were told are sent: an ALARM after an ALARM (the box and the stream
  both saw a camera stop; a restarted box raising it again) and an OK for an alarm nobody was told
  about are not messages.
- Rate limit: after an ALARM message, the group's next ALARM message waits ``min_interval_s``; the
  raises in between are counted and said in the next one ("raised 4 more times ..."), and their
  clears are not sent (people were not told of those raises). One still raised when the interval
  ends is sent then. A camera that comes and goes every few seconds sends its first raise and clear,
  then at most one raise per interval, not hundreds.
- Every message goes to each destination on its own: one that fails is retried (backoff from
  ``first_retry_s`` doubling to ``max_retry_s``) without resending to the others, logged at WARNING
  each time and at ERROR when given up after ``give_up_s``. A group's messages reach each destination
  in the order they were queued: a raise never overtakes the clear still being retried before it, so
  the last message people got tells the state the group is in.
- The ledger (``alerts.json``, replaced atomically after every change) holds what was sent, what is
  pending and what each group was told: a restarted box sends nothing twice, and what was pending
  goes out after the restart. A crash in the instant between a destination taking a message and the
  ledger recording it sends that one message again (at least once: no channel offers more).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from onebox.alerts.ports import DeliveryError

log = logging.getLogger("moodlens.alerts")
LEDGER_VERSION = 1
KEEP_SENT = 5000  # message keys remembered (far more than a restart could replay)


class Destination(Protocol):
    name: str

    def send(self, title: str, body: str, attachments: Sequence[Path] = (), state: str = "REPORT") -> None: ...


@dataclass
class Message:
    key: str  # the alarm's event_id, or the report's file: the same key is never sent twice
    group: str  # rule/site/camera ("report" for reports)
    state: str  # ALARM, OK, REPORT
    title: str
    body: str
    attachments: tuple[str, ...] = ()
    time_ms: int | None = None  # the alarm's event time: a clear says how long the raise it ends lasted


@dataclass
class _Pending:
    message: Message
    destination: int
    first_try: float
    next_try: float
    tries: int = 0


class Outbox:
    def __init__(self, ledger: Path, destinations: Sequence[Destination], clock: Callable[[], float] = time.time,
                 min_interval_s: float = 1800.0, give_up_s: float = 3600.0, first_retry_s: float = 10.0,
                 max_retry_s: float = 300.0) -> None:
        self.ledger, self.destinations, self.clock = ledger, list(destinations), clock
        self.min_interval_s, self.give_up_s = min_interval_s, give_up_s
        self.first_retry_s, self.max_retry_s = first_retry_s, max_retry_s
        self.sent: dict[str, float] = {}
        self.groups: dict[str, dict[str, Any]] = {}  # group -> {"told": ALARM|OK, "alarm_at": s, "held": n}
        self.pending: list[_Pending] = []
        self.offsets: dict[str, int] = {}  # the service's reading positions, saved with the rest
        self._load()

    # ------------------------------------------------------------- decide

    def offer(self, message: Message) -> str:
        """Queues the message unless the rules above say no; returns what was decided, in a word."""
        if message.key in self.sent or any(p.message.key == message.key for p in self.pending):
            return "duplicate"
        now = self.clock()
        if message.state != "REPORT":
            group = self.groups.setdefault(message.group, {"told": "OK", "alarm_at": None, "held": 0, "waiting": None})
            if message.state == group["told"]:
                if message.state == "OK":
                    group["waiting"] = None  # a raise nobody was told of has cleared: nothing to tell
                    self._save()
                return "unchanged"
            if message.state == "ALARM":
                last = group["alarm_at"]
                if last is not None and now - last < self.min_interval_s:
                    group["held"] += 1
                    group["waiting"] = asdict(message)  # told when the interval is over, if still raised
                    self._save()
                    return "rate-limited"
                self._tell_alarm(group, message, now, group["held"])
            else:
                group["told"] = "OK"
        self._queue(message, now)
        return "queued"

    def release_held(self) -> None:
        """A raise held back by the rate limit and still raised when its interval ends is sent then."""
        now = self.clock()
        for group in self.groups.values():
            waiting = group.get("waiting")
            if waiting is None or group["alarm_at"] is None or now - group["alarm_at"] < self.min_interval_s:
                continue
            message = Message(**{**waiting, "attachments": tuple(waiting["attachments"])})
            self._tell_alarm(group, message, now, group["held"] - 1)
            self._queue(message, now)

    def _tell_alarm(self, group: dict[str, Any], message: Message, now: float, others: int) -> None:
        if others > 0:
            message.body += (f"\n(Raised {others} more time{'s' if others > 1 else ''} before this, not sent "
                             f"each time: at most one message per {self.min_interval_s / 60:g} minutes.)")
        group.update(told="ALARM", alarm_at=now, held=0, waiting=None, raised_ms=message.time_ms)

    def raised_ms(self, group: str) -> int | None:
        """The event time of the raise people were last told of, while the group is raised."""
        state = self.groups.get(group)
        return state.get("raised_ms") if state is not None and state["told"] == "ALARM" else None

    def _queue(self, message: Message, now: float) -> None:
        for index in range(len(self.destinations)):
            self.pending.append(_Pending(message, index, now, now))
        self._save()

    # --------------------------------------------------------------- send

    def pump(self) -> int:
        """Sends what is due; returns how many deliveries succeeded."""
        self.release_held()
        delivered = 0
        waiting: set[tuple[str, int]] = set()  # (group, destination) with an earlier message still pending
        for item in list(self.pending):
            now = self.clock()
            lane = (item.message.group, item.destination)
            if item.next_try > now or lane in waiting:
                waiting.add(lane)  # a later state of the group must not overtake it: the last one told stays true
                continue
            destination = self.destinations[item.destination] if item.destination < len(self.destinations) else None
            if destination is None:  # the site file lost that destination since: nothing to send to
                self.pending.remove(item)
                continue
            try:
                destination.send(item.message.title, item.message.body, [Path(p) for p in item.message.attachments],
                                 item.message.state)
            except (DeliveryError, OSError) as error:
                item.tries += 1
                if now - item.first_try >= self.give_up_s:
                    self.pending.remove(item)
                    log.error("alert %r to %s given up after %d tries in %.0f minutes: %s", item.message.title,
                              destination.name, item.tries, (now - item.first_try) / 60, error)
                else:
                    item.next_try = now + min(self.max_retry_s, self.first_retry_s * 2 ** (item.tries - 1))
                    log.warning("alert %r to %s not delivered (try %d): %s; next try in %.0f s",
                                item.message.title, destination.name, item.tries, error, item.next_try - now)
                self._save()
                waiting.add(lane)
                continue
            self.pending.remove(item)
            if not any(p.message.key == item.message.key for p in self.pending):
                self.sent[item.message.key] = now
            delivered += 1
            log.info("alert %r sent to %s", item.message.title, destination.name)
            self._save()
        return delivered

    # -------------------------------------------------------------- ledger

    def save_offsets(self, offsets: dict[str, int]) -> None:
        if offsets != self.offsets:
            self.offsets = dict(offsets)
            self._save()

    def _save(self) -> None:
        recent = sorted(self.sent.items(), key=lambda kv: kv[1])[-KEEP_SENT:]
        self.sent = dict(recent)
        document = {"version": LEDGER_VERSION, "sent": self.sent, "groups": self.groups, "offsets": self.offsets,
                    "pending": [{**asdict(p), "message": asdict(p.message)} for p in self.pending]}
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        temp = self.ledger.with_suffix(".tmp")
        with temp.open("w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.ledger)

    def _load(self) -> None:
        try:
            document = json.loads(self.ledger.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except ValueError as error:
            raise ValueError(f"{self.ledger}: not a readable alerts ledger ({error}); move it away to start "
                             "afresh (alarms already sent may then be sent again)") from None
        if document.get("version") != LEDGER_VERSION:
            raise ValueError(f"{self.ledger}: alerts ledger version {document.get('version')!r}, "
                             f"this box reads {LEDGER_VERSION}")
        self.sent = {str(k): float(v) for k, v in document["sent"].items()}
        self.groups = document["groups"]
        self.offsets = {str(k): int(v) for k, v in document.get("offsets", {}).items()}
        self.pending = []
        for item in document["pending"]:
            message = Message(**{**item["message"], "attachments": tuple(item["message"]["attachments"])})
            self.pending.append(_Pending(message, int(item["destination"]), float(item["first_try"]),
                                         float(item["next_try"]), int(item["tries"])))
