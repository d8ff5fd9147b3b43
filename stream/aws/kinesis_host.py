"""The Kinesis development host: Kinesis reader -> validation -> window engine -> alarms -> local files.

The same engine and alarms as the embedded host (`stream.embedded`), fed from a Kinesis stream (moto
server, a real stream for a replay) instead of the local log. After each GetRecords batch it appends
the outputs (windows, alarms, late events, dead letters) and fsyncs them, then replaces
``checkpoint.json`` atomically with every shard's position, the engine and alarm state and the size of
every output. On start it restores that checkpoint and truncates the outputs to the recorded sizes, so
a crash at any point neither loses nor duplicates output: shards are re-read from the checkpointed
positions with the engine state that went with them.

All shards feed one engine, read round-robin (parents before children). The engine's watermark is
global, so a shard that falls more than ``allowed_lateness_ms`` behind the others in event time has
its events counted late (and written to ``late.jsonl`` for the batch path): that is the engine's
rule, not something this host can fix; the reader's per-shard GetRecords limit keeps shards close.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stream.alarms import AlarmEngine
from stream.aws.kinesis_reader import KinesisReader, KinesisRecord, ReadStats, ShardCheckpoint
from stream.deadletter import JsonlDeadLetterSink
from stream.embedded import ALARMS, DEAD_LETTERS, LATE, OUTPUTS, WINDOWS, RunnerConfig
from stream.engine import WindowEngine
from stream.ingest import ingest
from stream.jsonl import AppendFile, read_checkpoint, write_atomically

CHECKPOINT = "kinesis-checkpoint.json"
CHECKPOINT_VERSION = 1


class KinesisEngineHost:
    def __init__(self, client: Any, stream_name: str, state_dir: Path | str, config: RunnerConfig | None = None,
                 *, limit: int = 1000, clock: Callable[[], float] = time.time,
                 fault: Callable[[str], None] = lambda point: None) -> None:
        self.stream_name = stream_name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or RunnerConfig()
        self._clock = clock
        self._fault = fault  # tests: raises at a named point to simulate a crash there
        state = read_checkpoint(self.state_dir / CHECKPOINT, version=CHECKPOINT_VERSION, stream=stream_name)
        if state is None:
            self.engine = WindowEngine(self.config.engine)
            self.alarms = AlarmEngine(self.config.alarms)
            self.counters = {"records": 0, "events": 0, "dead_letters": 0, "windows": 0, "alarms": 0, "late": 0}
            sizes: dict[str, int] = {}
            shards: dict[str, ShardCheckpoint] = {}
        else:
            self.engine = WindowEngine.restore(state["engine"])
            self.alarms = AlarmEngine.restore(state["alarms"])
            self.counters = dict(state["counters"])
            sizes = state["outputs"]
            shards = {k: ShardCheckpoint.from_json(v) for k, v in state["shards"].items()}
        self.files = {name: AppendFile(self.state_dir / name) for name in OUTPUTS}
        for name, handle in self.files.items():
            handle.truncate(sizes.get(name, 0))
        self._dead = JsonlDeadLetterSink.on(self.files[DEAD_LETTERS])
        self._shards = shards
        self.reader = KinesisReader(client, stream_name, self, limit=limit)

    # -- the reader's CheckpointStore: shard positions go to disk with the engine state ----------
    def load(self) -> dict[str, ShardCheckpoint]:
        return {k: ShardCheckpoint(v.sequence_number, v.ended) for k, v in self._shards.items()}

    def save(self, checkpoints: Mapping[str, ShardCheckpoint]) -> None:
        self._fault("before-checkpoint")
        self._shards = {k: ShardCheckpoint(v.sequence_number, v.ended) for k, v in checkpoints.items()}
        state = {"version": CHECKPOINT_VERSION, "stream": self.stream_name,
                 "shards": {k: v.to_json() for k, v in sorted(self._shards.items())},
                 "engine": self.engine.snapshot(), "alarms": self.alarms.snapshot(), "counters": self.counters,
                 "outputs": {name: handle.size for name, handle in self.files.items()}}
        write_atomically(self.state_dir / CHECKPOINT, state)

    # -- processing ------------------------------------------------------------------------------
    def _handle(self, records: Sequence[KinesisRecord]) -> None:
        now_ms = int(self._clock() * 1000) if self.config.check_time else None
        events, letters = ingest(
            [(f"kinesis:{self.stream_name}/{r.shard_id}@{r.sequence_number}", r.data) for r in records],
            now_ms, self.config.ingest)
        out = self.engine.process(events)
        alarms = self.alarms.process(out.ticks)
        self._write(out.windows, alarms, out.late, letters, len(records), len(events))

    def _write(self, windows: list[Any], alarms: list[Any], late: list[Any], letters: list[Any], records: int,
               events: int) -> None:
        self.files[WINDOWS].write(windows)
        self.files[ALARMS].write(alarms)
        self.files[LATE].write(late)
        self._dead.put(letters)
        self._fault("torn-write")
        for handle in self.files.values():
            handle.sync()
        for key, value in (("records", records), ("events", events), ("dead_letters", len(letters)),
                           ("windows", len(windows)), ("alarms", len(alarms)), ("late", len(late))):
            self.counters[key] += value

    def drain(self, flush: bool = False) -> ReadStats:
        """Reads every shard to where it is now; with ``flush`` also closes every open window."""
        stats = self.reader.read(self._handle)
        if flush:
            out = self.engine.flush()
            self._write(out.windows, self.alarms.process(out.ticks), [], [], 0, 0)
            self.save(self.reader.checkpoints)
        return stats

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
