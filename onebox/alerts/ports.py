"""What the outbox needs from a channel: send one message, or say why it could not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class DeliveryError(RuntimeError):
    """The message did not go out (server refused, timed out, unreachable): the outbox retries it."""


class Notifier(Protocol):
    def send(self, title: str, body: str, attachments: Sequence[Path] = (), state: str = "REPORT") -> None:
        """Sends to every configured destination; raises DeliveryError when any did not take it.
        ``state`` (ALARM, OK, REPORT): how a chat shows it (red, green, plain)."""
