"""Scale-out: a record processor for the Kinesis Client Library's MultiLangDaemon (``amazon_kclpy``).

The KCL owns the shard leases (DynamoDB), balances them over workers and handles reshards (a parent
shard is processed to its end before its children start). This processor runs the host's steps for
one shard: ingest -> per-site engines and alarms -> outputs -> the sites' states -> KCL checkpoint,
in that order (sinks, state, offsets).

State per site. Each site is its own S3 object (``S3SiteStates``) carrying, besides its engine and
alarm state, the last position it applied per shard. So a site can move between workers (a lease
steal, a split, a merge) without anything else moving with it: the next processor that sees the
site loads its object; a record re-delivered after a crash or a lease move is skipped exactly by the
sites that had applied it, and applied by those that had not. Event time is per site
(``stream.host.sites``), so the windows are those a single consumer would compute.

Counters. Each site object carries the site's own counters (events, windows, alarms, late) with its
engines, so their sum over the site objects is exact whatever crash cut a batch between two site
objects: a site counts exactly the records it applied.

Fencing. Site objects are written with If-Match on the ETag this processor read (If-None-Match for a
new site). A 412 means another worker has the site now: the processor stops (no more outputs, no
state, no checkpoint) and says why; the lease's owner carries on from its own checkpoint.

Lifecycle (amazon_kclpy v3 ``RecordProcessorBase``): ``initialize`` (shard id), ``process_records``
(records + checkpointer), ``lease_lost`` (no checkpoint possible: drop the cached sites),
``shard_ended`` (checkpoint at SHARD_END so the children start), ``shutdown_requested`` (a last
checkpoint). ``amazon_kclpy`` is imported only in ``main`` (its build downloads the Java jars; the
container image installs it), so this module and its tests run without it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from stream.deadletter import DeadLetter
from stream.host.loop import HostConfig, apply_batch
from stream.host.ports import FencedError, Outputs, SourceRecord
from stream.host.sites import Sites, SiteState
from stream.sources.kinesis.source import kinesis_position


class SiteStore(Protocol):
    def get(self, site: str) -> dict[str, Any] | None: ...

    def put(self, site: str, state: Mapping[str, Any]) -> None: ...

    def site_where(self, site: str) -> str: ...


def _checkpoint(checkpointer: Any, sequence_number: str | None, sub_sequence_number: int | None = None, *,
                attempts: int = 5, sleep: Callable[[float], None] = time.sleep) -> bool:
    """KCL checkpoint with the documented retries; False when the lease is gone (ShutdownException)."""
    for attempt in range(attempts):
        try:
            if sequence_number is None:
                checkpointer.checkpoint()
            else:
                checkpointer.checkpoint(sequence_number, sub_sequence_number)
            return True
        except Exception as error:  # amazon_kclpy.kcl.CheckpointError, matched by its value
            value = getattr(error, "value", "")
            if value == "ShutdownException":
                return False
            if value != "ThrottlingException" or attempt == attempts - 1:
                raise
            sleep(0.2 * 2 ** attempt)
    return False


class SiteRecordProcessor:
    """One per shard, created by the KCL process (``main``) through ``factory``."""

    version = 3  # amazon_kclpy's processor interface version

    def __init__(self, store: SiteStore, outputs: Outputs, config: HostConfig | None = None, *,
                 clock: Callable[[], float] = time.time, log: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.outputs = outputs
        self.config = config or HostConfig()
        self._clock = clock
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.shard_id = ""
        self.sites = Sites(self.config.engine, self.config.alarms, clock=clock)
        self.stopped: str | None = None  # why this processor refuses further records
        self.last: tuple[str, int] | None = None  # last (sequence number, sub) fully applied and stored
        self.read = {"records": 0, "dead_letters": 0, "skipped": 0}  # this processor's reading, not stored

    # -- the KCL lifecycle --------------------------------------------------------------------------
    def initialize(self, initialize_input: Any) -> None:
        self.shard_id = initialize_input.shard_id

    def process_records(self, process_records_input: Any) -> None:
        if self.stopped is not None:
            return  # fenced: nothing more from this processor; the lease's owner carries on
        records = list(process_records_input.records)
        if not records:
            return
        try:
            self._apply(records)
        except FencedError as error:
            self.stopped = str(error)
            self._log(f"kcl {self.shard_id}: stopped: {error}")
            return
        last = records[-1]
        self.last = (last.sequence_number, int(last.sub_sequence_number or 0))
        if not _checkpoint(process_records_input.checkpointer, *self.last):
            self._stop("lease gone while checkpointing (ShutdownException)")

    def lease_lost(self, lease_lost_input: Any) -> None:
        self._stop("lease lost")  # checkpointing is no longer possible; another worker has the shard

    def shard_ended(self, shard_ended_input: Any) -> None:
        if self.stopped is None:
            _checkpoint(shard_ended_input.checkpointer, None)  # SHARD_END: lets the child shards start
        self._stop("shard ended")

    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        if self.stopped is None and self.last is not None:
            _checkpoint(shutdown_requested_input.checkpointer, *self.last)
        self._stop("shutdown requested")

    # -- one batch: ingest -> sites -> outputs -> site objects --------------------------------------
    def _apply(self, records: list[Any]) -> None:
        now_ms = int(self._clock() * 1000) if self.config.check_time else None
        batch = []
        for r in records:
            sub = int(r.sub_sequence_number or 0)
            batch.append(SourceRecord(self.shard_id, kinesis_position(r.sequence_number, sub), r.binary_data,
                                      f"kinesis:{self.shard_id}@{r.sequence_number}/{sub}"))
        emitted, letters, _ = apply_batch(batch, self.sites, self.config, now_ms, load=self._load)
        if self.config.idle_advance_ms is not None:
            emitted.extend(self.sites.advance_idle(self.config.idle_advance_ms))
        self._write(emitted, letters)
        for site in sorted(emitted.dirty):
            self.store.put(site, self.sites.states[site].snapshot())  # FencedError: another worker has it
        for key, value in (("records", len(records)), ("dead_letters", len(letters)), ("skipped", emitted.skipped)):
            self.read[key] += value

    @property
    def counters(self) -> dict[str, int]:
        """What this processor read, and what the sites it holds produced (events, windows, alarms, late:
        stored in each site's object, so summed over the objects they are exact after any crash)."""
        return {**self.read, **self.sites.counters()}

    def _load(self, names: set[str]) -> None:
        """Sites seen for the first time by this processor: their state objects, if any (a site moving here)."""
        for site in sorted(names - set(self.sites.states)):
            document = self.store.get(site)
            if document is not None:
                self.sites.states[site] = SiteState.restore(document, self.store.site_where(site),
                                                            self.sites.alarm_config, self.sites.engine_config)

    def _write(self, emitted: Any, letters: list[DeadLetter]) -> None:
        self.outputs.write(emitted, letters)
        self.outputs.flush()

    def _stop(self, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
        self.sites = Sites(self.config.engine, self.config.alarms, clock=self._clock)  # cached states go


def main(factory: Callable[[], SiteRecordProcessor]) -> None:
    """The MultiLangDaemon's child process: ``python -m stream.aws.kcl_main`` style entry point."""
    from amazon_kclpy import kcl  # lazy: installed in the container image only

    kcl.KCLProcess(factory()).run()
