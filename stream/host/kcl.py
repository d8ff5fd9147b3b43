"""Scale-out: a record processor for the Kinesis Client Library's MultiLangDaemon (``amazon_kclpy``).

The KCL owns the shard leases (DynamoDB), balances them over workers and handles reshards (a parent
shard is processed to its end before its children start). This processor runs the host
(``stream.host.loop``) on one shard: each ``process_records`` call is one batch of its source
(``stream.sources.kinesis.daemon``), and the host's one ordered commit stores it: outputs -> the
sites' states -> KCL checkpoint, in that order (sinks, state, offsets). Only the state store differs:
``SiteObjects`` writes each changed site's object, then checkpoints the shard with the KCL (which
keeps the shard's position).

State per site. Each site is its own S3 object (``S3SiteStates``) carrying, besides its engine and
alarm state (and its reachability, ``stream.host.outage``), the last position it applied per shard. So
a site can move between workers (a lease steal, a split, a merge) without anything else moving with it:
the next processor that sees the site loads its object; a record re-delivered after a crash or a lease
move is skipped exactly by the sites that had applied it, and applied by those that had not. Event time is per site
(``stream.host.sites``), so the windows are those a single consumer would compute.

Counters are the host's: each site object carries the site's own (events, windows, alarms, late)
with its engines, so their sum over the site objects is exact whatever crash cut a batch between two
site objects (a site counts exactly the records it applied); records, dead letters and skipped
replays are this processor's reading (the KCL's checkpoint cannot carry them).

Fencing. Site objects are written with If-Match on the ETag this processor read (If-None-Match for a
new site). A 412 means another worker has the site now: the processor stops (no more outputs, no
state, no checkpoint) and says why; the lease's owner carries on from its own checkpoint.

Lifecycle (amazon_kclpy v3 ``RecordProcessorBase``): ``initialize`` (shard id), ``process_records``
(records + checkpointer), ``lease_lost`` (no checkpoint possible: the processor stops),
``shard_ended`` (checkpoint at SHARD_END so the children start), ``shutdown_requested`` (a last
checkpoint). ``amazon_kclpy`` is imported only in ``main`` (its build downloads the Java jars; the
container image installs it), so this module and its tests run without it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from stream.host.loop import Host, HostConfig
from stream.host.ports import FencedError, Outputs, Source


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


class Delivered(Source, Protocol):
    """The host's source here (``stream.sources.kinesis.daemon``): the records of the daemon's current
    ``process_records`` call, once; its position is the last one's (sequence number, sub)."""

    def deliver(self, shard_id: str, records: Sequence[Any]) -> None: ...


class SiteObjects:
    """The host's state store here: the changed sites' objects (fenced each), then the KCL checkpoint at
    the batch's last record. Nothing is loaded up front; a site's object is read when a batch first
    names it (``fetch_site``), so a site can move here from another worker."""

    atomic = False  # outputs cannot be cut back: remote sinks, deterministic ids downstream

    def __init__(self, store: SiteStore) -> None:
        self.store = store
        self.where = store.site_where("*")
        self.checkpointer: Any = None  # the current process_records call's

    def load(self) -> tuple[None, dict[str, dict[str, Any]]]:
        return None, {}

    def claim(self) -> bool:
        return True  # the KCL's lease is the claim; each site object is fenced on its own write

    def commit(self, checkpoint: Mapping[str, Any], sites: Mapping[str, Mapping[str, Any]]) -> None:
        for site in sorted(sites):
            self.store.put(site, sites[site])  # FencedError: another worker has the site
        if not _checkpoint(self.checkpointer, *checkpoint["position"]):
            raise FencedError("lease gone while checkpointing (ShutdownException)")

    def site_where(self, site: str) -> str:
        return self.store.site_where(site)

    def close(self) -> None:
        return None


class SiteRecordProcessor:
    """One per shard, created by the KCL process (``main``) through ``factory``."""

    version = 3  # amazon_kclpy's processor interface version

    def __init__(self, store: SiteStore, outputs: Outputs, config: HostConfig | None = None, *,
                 records: Delivered, clock: Callable[[], float] = time.time,
                 log: Callable[[str], None] | None = None) -> None:
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.shard_id = ""
        self.source = records
        self.state = SiteObjects(store)
        self.host = Host(self.source, self.state, outputs, replace(config or HostConfig(), commit_every_s=0.0),
                         clock=clock, fetch_site=store.get)
        self.stopped: str | None = None  # why this processor refuses further records

    @property
    def counters(self) -> dict[str, int]:
        return self.host.counters

    # -- the KCL lifecycle --------------------------------------------------------------------------
    def initialize(self, initialize_input: Any) -> None:
        self.shard_id = initialize_input.shard_id
        after = getattr(initialize_input, "sequence_number", None)  # a checkpoint, TRIM_HORIZON, SHARD_END...
        where = ("at the stream's start" if after in (None, "TRIM_HORIZON") else
                 f"after sequence number {after}" if str(after).isdigit() else f"at {after}")
        self._log(f"kcl {self.shard_id}: started {where}")

    def process_records(self, process_records_input: Any) -> None:
        if self.stopped is not None:
            return  # fenced: nothing more from this processor; the lease's owner carries on
        records = list(process_records_input.records)
        if not records:
            return
        self.source.deliver(self.shard_id, records)
        self.state.checkpointer = process_records_input.checkpointer
        try:
            self.host.step()
            self.host.commit()
        except FencedError as error:
            self._stop(str(error))

    def lease_lost(self, lease_lost_input: Any) -> None:
        self._stop("lease lost")  # checkpointing is no longer possible; another worker has the shard

    def shard_ended(self, shard_ended_input: Any) -> None:
        if self.stopped is None:
            _checkpoint(shard_ended_input.checkpointer, None)  # SHARD_END: lets the child shards start
        self._stop("shard ended")

    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        if self.stopped is None and self.host.position is not None:
            _checkpoint(shutdown_requested_input.checkpointer, *self.host.position)
        self._stop("shutdown requested")

    def _stop(self, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
            c = self.counters
            self._log(f"kcl {self.shard_id}: stopped: {why}; read {c['records']} records, wrote {c['windows']} "
                      f"windows and {c['alarms']} alarm changes, {c['dead_letters']} rejected")


def main(factory: Callable[[], SiteRecordProcessor]) -> None:
    """The MultiLangDaemon's child process (``moodlens stream kcl-worker``): one processor, run by
    ``amazon_kclpy`` over the daemon's standard input and output."""
    from amazon_kclpy import kcl  # lazy: installed in the container image only

    kcl.KCLProcess(factory()).run()
