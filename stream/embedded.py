"""The embedded host: local log -> validation -> window engine -> alarms -> local output files.

Exactly-once by checkpoint: after each batch the runner appends its outputs (windows, alarms,
late events, dead letters), fsyncs them, then atomically replaces ``checkpoint.json`` (temp file,
fsync, ``os.replace``, directory fsync) with the input offset, the engine and alarm state and the
byte size of every output file. On start it restores that checkpoint and truncates each output to
the recorded size, discarding whatever a crash left after the last checkpoint; then it replays
the log from the recorded offset. Processing is deterministic (event time only, per-event
watermark, sorted emission, derived ids), so killed at any point and restarted it writes exactly
the bytes an uninterrupted run writes, however the log was cut into batches.

Two inputs are not in the log and are therefore not replayed byte for byte: the wall clock used by
the time sanity checks (``IngestConfig.max_future_ms/max_past_ms``; pass ``check_time=False`` for
replays) and the idle advance of the watermark (``idle_advance_ms``, off by default), which emits
the same windows, only at a different moment.

Output files, in ``state_dir``: ``windows.jsonl`` (sentiment_window), ``alarms.jsonl``
(sentiment_alarm), ``late.jsonl`` (late events for the batch path), ``deadletter.jsonl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from stream.alarms import AlarmConfig, AlarmEngine, check_alarms_fit_windows
from stream.deadletter import DeadLetter, JsonlDeadLetterSink
from stream.engine import EngineConfig, WindowEngine
from stream.ingest import IngestConfig, ingest
from stream.jsonl import AppendFile, dumps, read_checkpoint, write_atomically

CHECKPOINT = "checkpoint.json"
CHECKPOINT_VERSION = 1
WINDOWS, ALARMS, LATE, DEAD_LETTERS = "windows.jsonl", "alarms.jsonl", "late.jsonl", "deadletter.jsonl"
OUTPUTS = (WINDOWS, ALARMS, LATE, DEAD_LETTERS)


class LogReader(Protocol):
    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]: ...


@dataclass(frozen=True)
class RunnerConfig:
    engine: EngineConfig = field(default_factory=EngineConfig)
    alarms: AlarmConfig = field(default_factory=AlarmConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    batch_size: int = 5_000
    check_time: bool = True
    idle_advance_ms: int | None = None  # no input for this long (wall clock): event time moves on

    def __post_init__(self) -> None:
        check_alarms_fit_windows(self.alarms, self.engine)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.idle_advance_ms is not None and self.idle_advance_ms < 1:
            raise ValueError(f"idle_advance_ms must be positive or None (never), got {self.idle_advance_ms}")


def _no_fault(point: str) -> None:
    return None


class EmbeddedRunner:
    def __init__(self, log: LogReader, state_dir: Path | str, config: RunnerConfig | None = None,
                 source: str = "locallog", clock: Callable[[], float] = time.time,
                 fault: Callable[[str], None] = _no_fault) -> None:
        self.log = log
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or RunnerConfig()
        self.source = source
        self._clock = clock
        self._fault = fault  # tests: raises at named points to simulate a crash there
        checkpoint = read_checkpoint(self.state_dir / CHECKPOINT, version=CHECKPOINT_VERSION)
        if checkpoint is None:
            self.offset = 0
            self.engine = WindowEngine(self.config.engine)
            self.alarms = AlarmEngine(self.config.alarms)
            self.counters: dict[str, int] = {"records": 0, "events": 0, "dead_letters": 0, "windows": 0,
                                             "alarms": 0, "late": 0}
            sizes: dict[str, int] = {}
        else:
            self.offset = int(checkpoint["offset"])
            self.engine = WindowEngine.restore(checkpoint["engine"])
            self.alarms = AlarmEngine.restore(checkpoint["alarms"])
            self.counters = dict(checkpoint["counters"])
            sizes = checkpoint["outputs"]
        self.files = {name: AppendFile(self.state_dir / name) for name in OUTPUTS}
        for name, handle in self.files.items():
            handle.truncate(sizes.get(name, 0))  # what a crash wrote after the checkpoint goes
        self._dead = JsonlDeadLetterSink.on(self.files[DEAD_LETTERS])
        self._last_input = self._clock()

    # ------------------------------------------------------------------ run

    def step(self) -> int:
        """One batch from the log; returns how many records it read (0: nothing new)."""
        records = self.log.read(self.offset, self.config.batch_size)
        if not records:
            self._maybe_idle_advance()
            return 0
        self._last_input = self._clock()
        now_ms = int(self._clock() * 1000) if self.config.check_time else None
        events, letters = ingest([(f"{self.source}@{offset}", payload) for offset, payload in records],
                                 now_ms, self.config.ingest)
        out = self.engine.process(events)
        alarms = self.alarms.process(out.ticks)
        self._commit(records[-1][0] + 1, out.windows, alarms, out.late, letters, len(records), len(events))
        return len(records)

    def drain(self, flush: bool = False) -> int:
        """Processes everything in the log now; with ``flush`` also closes every open window."""
        total = 0
        while count := self.step():
            total += count
        if flush:
            out = self.engine.flush()
            self._commit(self.offset, out.windows, self.alarms.process(out.ticks), [], [], 0, 0)
        return total

    def run(self, stop: Callable[[], bool], poll_s: float = 0.5) -> None:
        """Follows the log until ``stop()`` is true."""
        while not stop():
            if self.step() == 0:
                time.sleep(poll_s)

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def _maybe_idle_advance(self) -> None:
        idle = self.config.idle_advance_ms
        if idle is None or (self._clock() - self._last_input) * 1000 < idle:
            return
        target = int(self._clock() * 1000) - idle
        current = self.engine.watermark_ms
        if current is None or target < current + 60_000:
            return
        out = self.engine.advance_watermark(target)
        self._commit(self.offset, out.windows, self.alarms.process(out.ticks), [], [], 0, 0)

    # ----------------------------------------------------------- checkpoint

    def _commit(self, offset: int, windows: list[Any], alarms: list[Any], late: list[Any],
                letters: list[DeadLetter], records: int, events: int) -> None:
        fault = self._fault
        fault("before-write")
        if windows:
            data = b"".join(dumps(w) + b"\n" for w in windows)
            half = len(data) // 2
            self.files[WINDOWS].write_raw(data[:half])
            fault("torn-write")
            self.files[WINDOWS].write_raw(data[half:])
        self.files[ALARMS].write(alarms)
        self.files[LATE].write(late)
        self._dead.put(letters)
        for handle in self.files.values():
            handle.sync()
        fault("before-checkpoint")
        counters = self.counters
        counters["records"] += records
        counters["events"] += events
        counters["dead_letters"] += len(letters)
        counters["windows"] += len(windows)
        counters["alarms"] += len(alarms)
        counters["late"] += len(late)
        self.offset = offset
        state = {"version": CHECKPOINT_VERSION, "offset": offset, "engine": self.engine.snapshot(),
                 "alarms": self.alarms.snapshot(), "counters": counters,
                 "outputs": {name: handle.size for name, handle in self.files.items()}}
        write_atomically(self.state_dir / CHECKPOINT, state, before_replace=lambda: fault("before-replace"))
        fault("after-checkpoint")

