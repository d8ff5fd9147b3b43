"""The one stream host: source -> ingest -> per-site engines -> alarms -> outputs -> commit.

Every wiring (the embedded runner on a local log, the Kinesis consumer on ECS, the KCL record
processor) runs this loop; they differ only in the adapters behind the ports (``stream.host.ports``).

One ordered commit per batch, after quix-streams' checkpoint: (1) outputs written and flushed
(files fsync'd; Firehose/SNS/EventBridge/CloudWatch/SQS calls returned), (2) the state: the changed
sites' states (each carrying the last position it applied per partition and its own counters) and
the host checkpoint (the source position, the record counters and the outputs' positions). The
folder and S3 stores write (2) in one atomic, fenced write (a local file replaced by rename; one S3
object written with If-Match); the KCL processor's (``stream.host.kcl``) writes one fenced object per
changed site, then the KCL's checkpoint. A crash before (2) replays the batch: local files are truncated back to
the checkpointed sizes, remote sinks receive the same windows and alarms again with the same
deterministic ids (idempotent downstream). The counters are a function of that committed state:
windows, alarms, late events and events are summed from the site states (``Sites.counters``), the
rest is the checkpoint's; a store whose sites are written apart from the checkpoint (the KCL
processor's) still counts each site exactly. A second or stale consumer is refused by the store
(``FencedError``) before it writes anything.

Event time advances per site (``stream.host.sites``): answers do not depend on neighbours' traffic
or on which consumer reads which shard.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from schemas.time_zones import time_zone_problem
from stream.alarms import AlarmConfig, check_alarms_fit_windows
from stream.deadletter import DeadLetter
from stream.engine import EngineConfig
from stream.host.outage import RULE as OUTAGE_RULE
from stream.host.ports import FencedError, Outputs, Source, SourceRecord, StateStore
from stream.host.sites import Emitted, Sites, StateError
from stream.ingest import IngestConfig, ingest

CHECKPOINT_VERSION = 3
CLAIM_ATTEMPTS = 5
HOST_COUNTERS = ("records", "dead_letters", "skipped")  # per record read; the rest per site (SITE_COUNTERS)
COUNTERS = ("records", "events", "dead_letters", "windows", "alarms", "late", "skipped")


@dataclass(frozen=True)
class HostConfig:
    engine: EngineConfig = field(default_factory=EngineConfig)
    alarms: AlarmConfig = field(default_factory=AlarmConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    batch_size: int = 5_000
    check_time: bool = True
    idle_advance_ms: int | None = None  # a site without input this long (wall clock): its event time moves on
    unreachable_minutes: float | None = None  # a sending site silent this long: site_unreachable (wall clock)
    commit_every_s: float = 0.0  # state commits at most this often (S3 PUTs cost); outputs go every batch
    site_zones: Mapping[str, str] = field(default_factory=dict)  # site -> IANA zone of its alarms' local hours

    def __post_init__(self) -> None:
        check_alarms_fit_windows(self.alarms, self.engine)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.idle_advance_ms is not None and self.idle_advance_ms < 1:
            raise ValueError(f"idle_advance_ms must be positive or None (never), got {self.idle_advance_ms}")
        if self.commit_every_s < 0:
            raise ValueError(f"commit_every_s must be >= 0, got {self.commit_every_s}")
        for site, zone in self.site_zones.items():
            if (problem := time_zone_problem(zone)) is not None:
                raise ValueError(f"site {site!r}: timezone: {problem}")


def _no_fault(point: str) -> None:
    return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one batch step, on again after it (if it was on).

    A step allocates a few objects per record that live to its end (decoded events, their
    tuples, votes); with the collector on, those trigger young-generation collections every 700
    allocations, each promoting the batch's survivors towards the older generations, whose
    collections then walk the sites' long-lived state again and again. Off for the step, the
    collector runs once after it. A step holds one batch, so what waits for it is bounded."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def apply_batch(records: Sequence[SourceRecord], sites: Sites, config: HostConfig, now_ms: int | None,
                load: Callable[[set[str]], None] | None = None) -> tuple[Emitted, list[DeadLetter], int]:
    """The host's one step on a batch, shared by every wiring: validation -> per-site engines and alarms.

    Returns (what the sites emitted, dead letters, events). ``load`` is called with the batch's sites
    before they are applied (a host with ``fetch_site`` reads their stored states there)."""
    with collector_paused():
        events, letters = ingest([(r.label, r.data) for r in records], now_ms, config.ingest)
        rejected = {letter.source for letter in letters}  # ingest keeps order and names each letter's record
        kept = [r for r in records if r.label not in rejected] if letters else records
        if load is not None:
            load({e["site_id"] for e in events})
        # the records' columns as lists: no tuple made per record
        emitted = sites.apply_columns(events, [r.partition for r in kept], [r.position for r in kept])
        return emitted, letters, len(events)


class Host:
    """``fetch_site``: for a store that loads no sites up front (the KCL processor's, whose sites move
    between workers), a site's stored state by name, read when a batch first names the site."""

    def __init__(self, source: Source, state: StateStore, outputs: Outputs, config: HostConfig | None = None,
                 *, clock: Callable[[], float] = time.time, fault: Callable[[str], None] = _no_fault,
                 fetch_site: Callable[[str], Mapping[str, Any] | None] | None = None) -> None:
        self.source = source
        self.state = state
        self.outputs = outputs
        self.config = config or HostConfig()
        self._clock = clock
        self._fault = fault  # tests: raises at named points to simulate a crash there
        self._fetch_site = fetch_site
        for _ in range(CLAIM_ATTEMPTS):  # checked before claimed: a refused state is left as it was
            checkpoint, sites = state.load()
            try:
                self._restore(checkpoint, sites)
                claimed = state.claim()
            except BaseException:
                state.close()  # a refused state is let go: the folder's lock, if any, goes with it
                raise
            if claimed:
                break
        else:
            state.close()
            raise FencedError(f"{state.where}: other consumers wrote the state each of the {CLAIM_ATTEMPTS} times "
                              "this one tried to claim it; stopping without writing anything")
        self._last_idle_check = clock()
        self._last_commit = clock()
        # A silence is judged only when the last poll read all there was: a host that restarts after a
        # while down reads its backlog first (the sites' last inputs are restored, `stream.host.outage`)
        self._caught_up = False
        self._dirty: set[str] = set()
        self._pending: dict[str, Any] = {"position": self.position, "batches": 0}

    def _restore(self, checkpoint: dict[str, Any] | None, sites: dict[str, dict[str, Any]]) -> None:
        state, source, outputs, clock = self.state, self.source, self.outputs, self._clock
        if checkpoint is not None:
            for name, expected in (("version", CHECKPOINT_VERSION), ("source", source.name)):
                if checkpoint.get(name) != expected:
                    why = (" (another version of moodlens wrote it; nothing was overwritten: move it aside and "
                           "replay the source from its start)" if name == "version" else "")
                    raise StateError(f"{state.where}: checkpoint has {name} {checkpoint.get(name)!r}, "
                                     f"this host expects {expected!r}{why}")
        self.sites = Sites.restore(self.config.engine, self.config.alarms, sites, state.site_where, clock,
                                   self.config.site_zones)
        if self.config.unreachable_minutes is not None:
            self.sites.watch_outages(self.config.unreachable_minutes)
        self._counters: dict[str, int] = dict.fromkeys(HOST_COUNTERS, 0)
        if checkpoint is not None:
            saved = checkpoint.get("counters")
            if not isinstance(saved, dict) or set(saved) != set(HOST_COUNTERS):
                raise StateError(f"{state.where}: checkpoint counters {saved!r}, expected {', '.join(HOST_COUNTERS)}")
            self._counters.update(saved)
        if state.atomic:  # sites and position change together: cut the outputs back to match them
            outputs.restore(checkpoint["outputs"] if checkpoint else {})
        source.seek(checkpoint["position"] if checkpoint else None)
        self._sizes: dict[str, Any] = checkpoint["outputs"] if checkpoint else {}
        self.position: Any = checkpoint["position"] if checkpoint else None

    @property
    def counters(self) -> dict[str, int]:
        """Records, dead letters and skipped replays from the checkpoint; the rest summed over the sites."""
        merged = {**self._counters, **self.sites.counters()}
        return {key: merged[key] for key in COUNTERS}

    # ------------------------------------------------------------------ run

    def step(self) -> int:
        """One batch from the source; returns how many records it read (0: nothing new)."""
        records = self.source.poll(self.config.batch_size)
        wall_clock = self.config.idle_advance_ms is not None or self.config.unreachable_minutes is not None
        if wall_clock and self._caught_up and self._clock() - self._last_idle_check >= 1.0:
            self._last_idle_check = self._clock()
            idle = self.sites.on_wall_clock(self.config.idle_advance_ms)
            if idle.windows or idle.alarms:
                self._commit(idle, [], 0, position=self._pending["position"])  # before this batch
        self._caught_up = len(records) < self.config.batch_size
        if not records:
            return 0
        now_ms = int(self._clock() * 1000) if self.config.check_time else None
        emitted, letters, _ = apply_batch(records, self.sites, self.config, now_ms,
                                          load=self._fetch_sites if self._fetch_site else None)
        self._commit(emitted, letters, len(records), position=self.source.position())
        return len(records)

    def _fetch_sites(self, names: set[str]) -> None:
        fetch = self._fetch_site
        if fetch is None:
            return
        for site in sorted(names - set(self.sites.states)):
            document = fetch(site)
            if document is not None:
                self.sites.restore_site(site, document, self.state.site_where(site))

    def drain(self, flush: bool = False) -> int:
        """Processes everything the source has now; with ``flush`` also closes every open window."""
        total = 0
        while count := self.step():
            total += count
        if flush:
            self._commit(self.sites.flush(), [], 0, position=self._pending["position"])
        self.commit()
        return total

    def close_to_last_data(self) -> None:
        """End of a finite input: closes each site's windows up to its last minute with data."""
        self._commit(self.sites.close_to_last_data(), [], 0, position=self._pending["position"])
        self.commit()

    def run(self, stop: Callable[[], bool], poll_s: float = 0.5) -> None:
        """Follows the source until ``stop()`` is true. In a quiet spell the state read before it is stored
        once ``commit_every_s`` has passed: a consumer killed then does not read (and send) it again."""
        while not stop():
            if self.step() == 0:
                if self._clock() - self._last_commit >= self.config.commit_every_s:
                    self.commit()
                time.sleep(poll_s)

    def close(self) -> None:
        """Closes the outputs and lets go of the state; does not commit (after a crash the state must
        stay as it was): call ``commit`` first on a graceful stop."""
        self.outputs.close()
        self.state.close()

    # ------------------------------------------------------------- commit

    def _commit(self, emitted: Emitted, letters: list[DeadLetter], records: int, position: Any) -> None:
        """Outputs now (written and flushed); the state when ``commit_every_s`` has passed, or at once when
        an outage was raised or cleared: the site's state says it was told, so a restart does not tell it
        again (``stream.host.outage``)."""
        fault = self._fault
        fault("before-write")
        self.outputs.write(emitted, letters)
        self._sizes = self.outputs.flush()
        counters = self._counters
        for key, value in (("records", records), ("dead_letters", len(letters)), ("skipped", emitted.skipped)):
            counters[key] += value
        self._dirty |= emitted.dirty
        self._pending = {"position": position, "batches": int(self._pending["batches"]) + 1}
        told = any(alarm["rule"] == OUTAGE_RULE for alarm in emitted.alarms)
        if told or self._clock() - self._last_commit >= self.config.commit_every_s:
            self.commit()

    def commit(self) -> None:
        """Sites' states, then the host checkpoint (position, counters, outputs' sizes)."""
        if not self._pending["batches"]:
            return
        self._fault("before-checkpoint")
        checkpoint = {"version": CHECKPOINT_VERSION, "source": self.source.name,
                      "position": self._pending["position"], "counters": dict(self._counters), "outputs": self._sizes}
        self.state.commit(checkpoint, self.sites.snapshot(sorted(self._dirty)))
        self.position = self._pending["position"]
        self._dirty = set()
        self._pending = {"position": self.position, "batches": 0}
        self._last_commit = self._clock()
        self._fault("after-checkpoint")
