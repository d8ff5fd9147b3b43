"""Event time per site: one window engine and one alarm engine per site (the partition key).

The rule. A site's watermark is the highest event time *of that site* minus the allowed lateness;
nothing another site sends moves it. So whether an event is late, and which windows and alarms a
site gets, depends only on that site's own events in their arrival order: not on which consumer
reads which shard, how shards are split or merged, or how busy the neighbours are. Kinesis keeps a
partition key (the site) in order within a shard, and the hosts read a parent shard to its end
before its children, so a site's arrival order is the same whoever reads it.

Output order. Each site's ticks (closed minute boundaries, with their windows and alarms) are placed
at the input record that made that site's watermark pass the boundary; ticks are then merged in
input order. The output files are therefore a function of the input sequence alone, however it is
cut into batches or restarted (the embedded runner's byte-for-byte restart guarantee).

Published windows. The alarm rules judge each tick's windows as the engine made them; the outputs
get them with the complements hidden (`stream.published`): no reader subtracts a camera's hidden
score out of its site's; nor reads it in an alarm judged on a hidden window (published without it).

Exactly-once per site. Each site remembers, per partition (a log, a Kinesis shard), the last
position it applied. A re-delivered record at or below that position is skipped for that site, so a
site whose state was saved before a crash does not count the replay twice, while a site whose state
was not saved applies it again.

Local hours. Each site's alarm baselines learn the local hours and days of its zone (``zones``: site ->
IANA zone, from `--sites`; a site left out is UTC, said once in the log). A saved state whose baselines
were kept in other hours (an older state version's UTC hours, or the zone changed since) is moved to the
zone declared now (`stream.alarms.AlarmEngine.restore`), said in the log.

Outages. A site's `Reachability` is saved with it: a restart neither repeats nor loses a ``site_unreachable``
(``stream.host.outage``); a version 2 state has none and is read with none known (said in the log).
"""

from __future__ import annotations

import json
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemas.types import SentimentAlarm, SentimentWindow
from stream.alarms import AlarmConfig, AlarmEngine, baseline_zone
from stream.engine import EngineConfig, EngineStats, Tick, WindowEngine
from stream.host.outage import OutageWatch, Reachability, saved_reachability
from stream.published import published, published_alarms

SITE_STATE_VERSION = 3
SITE_STATE_READ = (2, SITE_STATE_VERSION)  # 2: before the reachability (stream.host.outage)
SITE_COUNTERS = ("events", "windows", "alarms", "late")  # what a site's own events produced
log = logging.getLogger(__name__)


class Applied(NamedTuple):
    """One validated event and where it came from (``partition``, ``position``), for `Sites.apply`; a host
    hands its batch to `Sites.apply_columns` as three lists instead."""

    event: Mapping[str, Any]
    partition: str
    position: int


@dataclass
class Emitted:
    windows: list[SentimentWindow] = field(default_factory=list)
    alarms: list[SentimentAlarm] = field(default_factory=list)
    late: list[Mapping[str, Any]] = field(default_factory=list)
    heartbeats: list[tuple[str, str, int]] = field(default_factory=list)  # (site, camera, latest in a closed minute)
    skipped: int = 0  # re-delivered records a site had already applied
    dirty: set[str] = field(default_factory=set)  # sites whose state changed

    def extend(self, other: Emitted) -> None:
        self.windows += other.windows
        self.alarms += other.alarms
        self.late += other.late
        self.heartbeats += other.heartbeats
        self.skipped += other.skipped
        self.dirty |= other.dirty


class SiteState:
    """A site's engines, per partition the last position applied, and what it produced so far.

    The counters live with the engines they count, in the same state object: whatever crash
    leaves a site's state older or newer than the host's checkpoint, its counters match it."""

    def __init__(self, engine: WindowEngine, alarms: AlarmEngine, applied: dict[str, int] | None = None,
                 counters: Mapping[str, int] | None = None, reach: Reachability | None = None) -> None:
        self.engine = engine
        self.alarms = alarms
        self.applied = applied or {}
        self.counters = {key: int((counters or {}).get(key, 0)) for key in SITE_COUNTERS}
        self.reach = reach or Reachability()  # wall clock: its last input, an outage reported

    def snapshot(self) -> dict[str, Any]:
        return {"version": SITE_STATE_VERSION, "engine": self.engine.snapshot(), "alarms": self.alarms.snapshot(),
                "applied": dict(sorted(self.applied.items())), "counters": dict(self.counters),
                "reachability": self.reach.to_json()}

    @classmethod
    def restore(cls, state: Mapping[str, Any], where: str, alarms: AlarmConfig | None = None,
                engine: EngineConfig | None = None, zones: Mapping[str, str] | None = None) -> SiteState:
        """``where`` names the object or file in the error: a corrupt or other-version state is never reused.
        ``alarms`` and ``engine``: the host's settings, which replace the ones stored with the state (so
        operations' tuning, a new `--min-tracks` too, applies to the sites a restarted host already knew);
        ``zones``: the host's site zones, likewise (None: the ones stored)."""
        try:
            version = state.get("version")
            if version not in SITE_STATE_READ:
                raise ValueError(f"site state version {version!r} (another version of moodlens wrote it), this "
                                 f"host reads {' and '.join(map(str, SITE_STATE_READ))}")
            counters = state["counters"]
            if not isinstance(counters, dict) or set(counters) != set(SITE_COUNTERS):
                raise ValueError(f"counters {counters!r}: expected {', '.join(SITE_COUNTERS)}")
            return cls(WindowEngine.restore(state["engine"], engine),
                       AlarmEngine.restore(state["alarms"], alarms, zones),
                       {str(k): int(v) for k, v in state["applied"].items()},
                       {key: int(value) for key, value in counters.items()},
                       saved_reachability(state["reachability"] if version == SITE_STATE_VERSION else None, where))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise StateError(f"{where}: unusable site state ({type(error).__name__}: {error})") from error


class StateError(ValueError):
    """A state object or checkpoint that cannot be used (corrupt, other version, other stream)."""


class Sites:
    """The per-site engines of one host; sites appear on their first event."""

    def __init__(self, engine: EngineConfig, alarms: AlarmConfig, states: Mapping[str, SiteState] | None = None,
                 clock: Callable[[], float] = time.time, zones: Mapping[str, str] | None = None) -> None:
        self.engine_config = engine
        self.alarm_config = alarms
        self.zones = dict(zones or {})  # site -> IANA zone of its local hours (module docstring)
        self._said_utc: set[str] = set()
        self.states: dict[str, SiteState] = dict(states or {})
        self._clock = clock
        self.outage: OutageWatch | None = None  # site_unreachable in wall-clock time (`watch_outages`)

    def watch_outages(self, after_minutes: float) -> None:
        """Raise site_unreachable for a site silent this many wall-clock minutes (``stream.host.outage``)."""
        self.outage = OutageWatch(after_minutes, self.zones)

    def site(self, name: str) -> SiteState:
        state = self.states.get(name)
        if state is None:
            self.say_zone(name)
            state = self.states[name] = SiteState(WindowEngine(self.engine_config),
                                                  AlarmEngine(self.alarm_config, self.zones))
        return state

    def say_zone(self, name: str, saved: Mapping[str, Any] | None = None) -> None:
        """Logs, once per site, that it has no declared zone; and when its ``saved`` state's baselines move
        to the zone declared now."""
        zone = self.zones.get(name, "UTC")
        if name not in self.zones and name not in self._said_utc:
            self._said_utc.add(name)
            log.info("site %s: no time zone declared (--sites): its alarm baselines learn UTC hours", name)
        alarms = saved.get("alarms") if saved is not None else None
        if isinstance(alarms, Mapping) and alarms.get("day_baselines"):
            was = baseline_zone(alarms, name)
            if was != zone:
                log.warning("site %s: its alarm baselines were kept in %s hours (state version %s): moved to "
                            "the %s hours declared now", name, was, alarms.get("version"), zone)

    def restore_site(self, name: str, state: Mapping[str, Any], where: str) -> SiteState:
        """A stored site state, with the host's settings and the site's declared zone (`SiteState.restore`)."""
        restored = self.states[name] = SiteState.restore(state, where, self.alarm_config, self.engine_config,
                                                         self.zones)
        self.say_zone(name, state)
        return restored

    def apply(self, items: Sequence[Applied | tuple[Mapping[str, Any], str, int]]) -> Emitted:
        """`apply_columns` on `Applied` or plain (event, partition, position) tuples."""
        return self.apply_columns([item[0] for item in items], [item[1] for item in items], [item[2] for item in items])

    def apply_columns(self, events: Sequence[Mapping[str, Any]], partitions: Sequence[str],
                      positions: Sequence[int]) -> Emitted:
        """Feeds each site its events (in input order) and merges the sites' output in input order.

        Record i is ``events[i]`` from ``partitions[i]`` at ``positions[i]``: three columns, not a tuple a
        record (a host has them as lists already). One pass over the events groups them by site; which
        event closed each tick comes from the engine (``EngineOutput.passed``), so no second pass."""
        if not len(events) == len(partitions) == len(positions):
            raise ValueError(f"{len(events)} events, {len(partitions)} partitions and {len(positions)} positions: "
                             "one of each per record")
        by_site: dict[str, tuple[list[int], list[Mapping[str, Any]]]] = {}  # site -> its records and events
        for index, event in enumerate(events):
            site = event["site_id"]
            group = by_site.get(site)
            if group is None:
                group = by_site[site] = ([], [])
            group[0].append(index)
            group[1].append(event)
        distinct = set(partitions)
        single = next(iter(distinct)) if len(distinct) == 1 else None
        out = Emitted()
        placed: list[tuple[int, int, Tick, list[SentimentAlarm]]] = []
        late: list[tuple[int, Mapping[str, Any]]] = []
        now = self._clock()
        serial = 0
        cleared: list[SentimentAlarm] = []
        for name, (indexes, grouped) in by_site.items():
            state = self.site(name)
            applied = state.applied
            fresh = _fresh(partitions, positions, indexes, applied, single)
            out.skipped += len(indexes) - len(fresh)
            if not fresh:
                continue
            site_events = grouped if fresh is indexes else [events[i] for i in fresh]
            out.dirty.add(name)
            if self.outage is not None and (back := self.outage.heard(name, state.reach, now)):
                cleared.append(back)
                state.counters["alarms"] += 1
            state.reach.last_input_s = now
            before = state.engine.watermark_ms
            result = state.engine.process(site_events)
            counters = state.counters
            counters["events"] += len(site_events)
            counters["late"] += len(result.late)
            if single is not None:
                position = positions[fresh[-1]]
                applied[single] = max(position, applied.get(single, -1))
            else:
                last: dict[str, int] = {}
                for i in fresh:
                    last[partitions[i]] = positions[i]
                for partition, position in last.items():
                    applied[partition] = max(position, applied.get(partition, -1))
            if result.ticks:
                triggers = _triggers(before, result.passed, [tick.end_ms for tick in result.ticks], len(site_events))
                for tick, trigger in zip(result.ticks, triggers, strict=True):
                    raised = state.alarms.process([tick])
                    counters["windows"] += len(tick.windows)
                    counters["alarms"] += len(raised)
                    placed.append((fresh[trigger], serial, tick, raised))
                    serial += 1
            if result.late:
                late.extend(zip((fresh[k] for k in _indexes_of(result.late, site_events)), result.late, strict=True))
        placed.sort(key=lambda p: (p[0], p[1]))
        out.alarms += cleared  # a site sends again: said before the windows its events close
        for _, _, tick, alarms in placed:
            self._publish(out, tick, alarms)
        out.late = [e for _, e in sorted(late, key=lambda pair: pair[0])]
        return out

    def _close(self, name: str, ticks: list[Tick]) -> Emitted:
        state = self.states[name]
        out = Emitted(dirty={name} if ticks else set())
        for tick in ticks:
            raised = state.alarms.process([tick])
            self._publish(out, tick, raised)
            state.counters["windows"] += len(tick.windows)
            state.counters["alarms"] += len(raised)
        return out

    def _publish(self, out: Emitted, tick: Tick, alarms: list[SentimentAlarm]) -> None:
        """A judged tick's output as readers get it (`stream.published`): the alarms judged its windows whole."""
        windows = published(tick.windows, self.engine_config.min_tracks)
        out.windows += windows
        out.heartbeats += tick.heartbeats
        out.alarms += published_alarms(alarms, windows, self.alarm_config.window_minutes,
                                       self.engine_config.min_tracks)

    def on_wall_clock(self, idle_ms: int | None) -> Emitted:
        """The host's wall-clock duties: outages raised (``watch_outages``), then the idle advance."""
        out = Emitted()
        if self.outage is not None:
            for alarm in self.outage.check({name: state.reach for name, state in self.states.items()}, self._clock()):
                out.alarms.append(alarm)  # counted and saved with the site: its state says it was told
                self.states[alarm["site_id"]].counters["alarms"] += 1
                out.dirty.add(alarm["site_id"])
        if idle_ms is not None:
            out.extend(self.advance_idle(idle_ms))
        return out

    def advance_idle(self, idle_ms: int) -> Emitted:
        """Sites with no event for ``idle_ms`` of wall clock: event time moves on with the clock.

        This bounds how long a silent site's last windows stay open (``idle_ms`` plus the lateness),
        and it is what makes events older than that late when the site's spools drain: so the bound
        is long (the hosts' default is one hour) and an outage is told by ``stream.host.outage``.
        The one input not in the log: it changes *when* windows appear, never their content."""
        now = self._clock()
        out = Emitted()
        for name in sorted(self.states):
            engine = self.states[name].engine
            last = self.states[name].reach.last_input(now)
            current = engine.watermark_ms
            target = int(now * 1000) - idle_ms
            if (now - last) * 1000 < idle_ms or current is None or target < current + 60_000:
                continue
            out.extend(self._close(name, engine.advance_watermark(target).ticks))
        return out

    def close_to_last_data(self) -> Emitted:
        """End of a finite input (a demo's clips): each site's event time moves on to the end of its last
        minute with data and no further, so only the windows ending by then close (``flush`` would
        close an hour of empty ones, and the silence after the input is not an outage)."""
        out = Emitted()
        for name in sorted(self.states):
            engine = self.states[name].engine
            last = engine.max_event_time_ms
            if last is None:
                continue
            end = (last // 60_000 + 1) * 60_000
            if engine.watermark_ms is None or engine.watermark_ms < end:
                out.extend(self._close(name, engine.advance_watermark(end).ticks))
        return out

    def flush(self) -> Emitted:
        """End of input: every site closes every open window (sites in name order)."""
        out = Emitted()
        for name in sorted(self.states):
            out.extend(self._close(name, self.states[name].engine.flush().ticks))
        return out

    def snapshot(self, names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        chosen = sorted(self.states) if names is None else sorted(names)
        return {name: self.states[name].snapshot() for name in chosen}

    @classmethod
    def restore(cls, engine: EngineConfig, alarms: AlarmConfig, states: Mapping[str, Mapping[str, Any]],
                where: Callable[[str], str], clock: Callable[[], float] = time.time,
                zones: Mapping[str, str] | None = None) -> Sites:
        sites = cls(engine, alarms, None, clock, zones)
        for name, doc in states.items():
            sites.restore_site(name, doc, where(name))
        _say_changed_settings(engine, states)
        return sites

    def counters(self) -> dict[str, int]:
        """The sites' counters, summed: a function of the committed site states alone."""
        totals = dict.fromkeys(SITE_COUNTERS, 0)
        for state in self.states.values():
            for key, value in state.counters.items():
                totals[key] += value
        return totals

    def engine_stats(self) -> EngineStats:
        """The sites' engine counters, summed (what one engine over all of them would count)."""
        totals: dict[str, int] = {}
        for state in self.states.values():
            for key, value in vars(state.engine.stats).items():
                totals[key] = totals.get(key, 0) + value
        return EngineStats(**totals)


def _fresh(partitions: Sequence[str], positions: Sequence[int], indexes: list[int], applied: dict[str, int],
           single: str | None) -> list[int]:
    """A site's records (``indexes``) above the position it applied last in their partition (a
    re-delivered record at or below it is skipped); ``indexes`` itself when none is."""
    if not applied:
        return indexes
    if single is not None:
        done = applied.get(single, -1)
        if positions[indexes[0]] > done:  # positions are ordered within a partition (`ports.SourceRecord`)
            return indexes
        return [i for i in indexes if positions[i] > done]
    return [i for i in indexes if positions[i] > applied.get(partitions[i], -1)]


def _triggers(before: int | None, passed: list[tuple[int, int]], ends: list[int], count: int) -> list[int]:
    """For each tick end, the index of the event that made the site's watermark pass it (the engine's
    ``passed``), from the watermark before the events; the last event if none did."""
    marks = [wm for _, wm in passed]
    triggers = []
    for end in ends:
        if before is not None and end <= before:
            triggers.append(0)
            continue
        k = bisect_left(marks, end)
        triggers.append(passed[k][0] if k < len(passed) else count - 1)
    return triggers


def _indexes_of(found: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]) -> list[int]:
    """The index in ``events`` of each of ``found`` (the same objects, in the same order), by identity:
    an equal copy (a retry) elsewhere in the batch is another record."""
    ids = list(map(id, events))
    indexes = []
    start = 0
    for event in found:
        try:
            start = ids.index(id(event), start)
        except ValueError:  # not among the events: placed with the last one
            indexes.append(len(events) - 1)
            continue
        indexes.append(start)
        start += 1
    return indexes


def _say_changed_settings(engine: EngineConfig, states: Mapping[str, Mapping[str, Any]]) -> None:
    """One line when the saved states were made with other window settings than the host now runs."""
    saved = {json.dumps(doc["engine"]["config"], sort_keys=True) for doc in states.values()}
    now = engine.to_json()
    for text in sorted(saved):
        before = json.loads(text)
        changed = {key: (before.get(key), value) for key, value in now.items() if before.get(key) != value}
        if not changed:
            continue
        said = ", ".join(f"{key} {old} -> {new}" for key, (old, new) in sorted(changed.items()))
        longest = max(before.get("window_minutes") or [0])
        note = (f"; windows longer than {longest} minutes lack the minutes before the restart until they fill"
                if max(engine.window_minutes) > longest else "")
        log.warning("window settings changed since the state was saved (%s): the new ones apply from now%s",
                    said, note)
