"""The embedded host: the one host (``stream.host.loop``) wired to the local log, a local state
folder and local output files.

Exactly-once by checkpoint: after each batch the host appends its outputs (windows, alarms, late
events, dead letters), fsyncs them, then atomically replaces ``checkpoint.json`` (temp file, fsync,
``os.replace``, directory fsync) with the log offset, every site's engine and alarm state and the
byte size of every output file. On start it restores that checkpoint and truncates each output to
the recorded size, discarding whatever a crash left after the last checkpoint; then it replays the
log from the recorded offset. Processing is deterministic (event time only, a watermark per site
updated per event, outputs placed at the record that closed them, derived ids), so killed at any
point and restarted it writes exactly the bytes an uninterrupted run writes, however the log was
cut into batches. One runner per state folder: the folder is locked while it runs
(``stream.state.local``), so a second one is refused instead of writing the same files.

Event time advances per site, as on AWS (``stream.host.sites``): a site's late events and windows do
not depend on other sites in the same log.

Two inputs are not in the log and are therefore not replayed byte for byte: the wall clock used by
the time sanity checks (``IngestConfig.max_future_ms/max_past_ms``; pass ``check_time=False`` for
replays) and the idle advance of a quiet site's watermark (``idle_advance_ms``, off by default),
which emits the same windows, only at a different moment.

Output files, in ``state_dir``: ``windows.jsonl`` (sentiment_window), ``alarms.jsonl``
(sentiment_alarm), ``late.jsonl`` (late events for the batch path), ``deadletter.jsonl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from stream.host.loop import Host, HostConfig
from stream.sinks.files import ALARMS, DEAD_LETTERS, LATE, OUTPUTS, WINDOWS, FileOutputs
from stream.sources.locallog import LocalLogSource, LogReader
from stream.state.local import CHECKPOINT, LocalStateStore

RunnerConfig = HostConfig  # the embedded runner's settings are the host's
__all__ = ["ALARMS", "CHECKPOINT", "DEAD_LETTERS", "LATE", "OUTPUTS", "WINDOWS", "EmbeddedRunner", "LogReader",
           "RunnerConfig"]


def _no_fault(point: str) -> None:
    return None


class EmbeddedRunner(Host):
    def __init__(self, log: LogReader, state_dir: Path | str, config: HostConfig | None = None,
                 source: str = "locallog", clock: Callable[[], float] = time.time,
                 fault: Callable[[str], None] = _no_fault) -> None:
        self.state_dir = Path(state_dir)
        super().__init__(LocalLogSource(log, source), LocalStateStore(self.state_dir, fault=fault),
                         FileOutputs(self.state_dir, fault=fault), config, clock=clock, fault=fault)

    @property
    def offset(self) -> int:
        return int(self.position or 0)
