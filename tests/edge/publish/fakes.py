"""Test doubles for the delivery side: events, a transport that can go offline, a sleep that records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.publish.ports import BatchLimits, OutboundRecord, TransportUnavailable
from schemas.ids import new_event_id

BASE_MS = 1_760_000_000_000


def heartbeat(number: int, site: str = "site-1", camera: str = "cam-1") -> dict[str, Any]:
    """A valid camera_heartbeat whose `faces` field carries a sequence number the tests check order by."""
    return {
        "schema": "camera_heartbeat", "schema_version": "1.0",
        "event_id": new_event_id(BASE_MS + number), "site_id": site, "event_time_ms": BASE_MS + number,
        "camera_id": camera, "fps": 10.0, "faces": number, "open_tracks": 0, "spool_depth": 0,
        "dropped_count": 0, "model_version": "1.0.0", "uptime_s": 1.0, "edge_version": "0.1.0",
    }


@dataclass
class RecordingSleep:
    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class ScriptedTransport:
    """Delivers into `delivered`; `offline` fails every call; `fail_plan` fails given indices, per call."""

    limits: BatchLimits = field(default_factory=lambda: BatchLimits(10, 1 << 20, 1 << 16))
    name: str = "scripted"
    offline: bool = False
    fail_plan: list[set[int]] = field(default_factory=list)
    delivered: list[bytes] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)  # batch sizes

    def send(self, records: Sequence[OutboundRecord]) -> list[int]:
        self.calls.append(len(records))
        if self.offline:
            raise TransportUnavailable("network is unreachable")
        failing = self.fail_plan.pop(0) if self.fail_plan else set()
        self.delivered.extend(r.payload for i, r in enumerate(records) if i not in failing)
        return sorted(failing)

    def close(self) -> None:
        pass
