"""Simple event sinks: JSON Lines to a file or stdout, and a counter for benchmarks.

The durable spool and the Kinesis/IoT publishers live elsewhere and plug in through
`edge.ports.EventSink`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any


class JsonLinesSink:
    """One event per line; '-' writes to stdout."""

    def __init__(self, target: str | Path = "-") -> None:
        self.target = str(target)
        if self.target == "-":
            self._handle: IO[str] = sys.stdout
        else:
            path = Path(self.target)
            if not path.parent.is_dir():
                raise ValueError(f"event output {path}: folder {path.parent} does not exist")
            self._handle = path.open("a", encoding="utf-8")
        self.count = 0

    def publish(self, event: dict[str, Any]) -> None:
        self._handle.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
        self._handle.flush()
        self.count += 1

    def depth(self) -> int:
        return 0  # written synchronously: nothing waits

    def close(self) -> None:
        if self._handle is not sys.stdout:
            self._handle.close()


class CountingSink:
    """Serialises each event (so the cost is measured) and counts them by kind."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.bytes = 0
        self.largest = 0

    def publish(self, event: dict[str, Any]) -> None:
        size = len(json.dumps(event, separators=(",", ":"), allow_nan=False))
        self.kinds[event["kind"]] += 1
        self.bytes += size
        self.largest = max(self.largest, size)
