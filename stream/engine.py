"""The window engine: event-time rolling sentiment windows per site and per site+camera.

Pure Python, no SDK, no clock: everything is decided by the events themselves, so the same input
sequence always gives the same output, whichever host runs it (embedded runner, Kinesis host, KCL record
processor) and however the input is cut into batches.

Split in three, after the clock / windower / logic split of dataflow engines:

Clock
    Event time (``event_time_ms``, when it happened at the camera). The watermark is the highest
    event time seen minus ``allowed_lateness_ms`` (default 2 min), updated per event, so the
    decision "late or not" does not depend on batch boundaries. ``advance_watermark`` moves it on
    when the input is idle (a host decision; the engine never reads a clock).
Windower
    1-minute panes keyed by (site, camera, minute). When the watermark passes a minute boundary E
    the pane ending at E is closed, and for every key with activity in the last ``max(window)``
    minutes the rolling windows [E - L, E) for each L in ``window_minutes`` (5, 15, 60) are emitted,
    for the camera and for the site. Each boundary is one ``Tick`` in the output, in time order.
Logic
    What a pane accumulates (``stream.aggregate``): usable faces, low-quality faces, each track's
    latest vote, the last heartbeat. Closed panes are folded into a per-camera sliding state (each
    track's latest vote and minute; per-minute integer sums), pruned beyond the longest window, so
    the state is bounded by (active cameras × tracks in the last hour) + (events in the open panes
    and the dedup horizon), whatever the number of events. The window sums are incremental: a
    tick adds the closed minute's sums and subtracts the minute that leaves each window (and a
    track's earlier vote where a later one replaces it), never re-summing the live tracks.

Late events (event time below the watermark when they arrive) never change a window: they are
returned in ``EngineOutput.late`` (and counted) for the batch path. Duplicates (same
``event_id``; a duplicate has the same event time) are dropped while their minute is open and for
``dedup_horizon_ms`` behind the watermark; they are counted. The first copy is kept. A copy whose
content differs from the first (same id, another time, camera, track, class, valence, usability or
kind: a camera with a broken id generator, a hand-edited replay) is dropped too but counted apart,
in ``conflicting_duplicates``: it is a bug upstream, not a retry. Content is compared through a
small fingerprint of what the engine reads (`stream.fingerprint`, 8 bits: the dedup tables stay as small as
the sets of ids they were), so about 1 in 256 conflicting copies passes for a plain duplicate.

The first tick: a fresh engine closes its first minute only when the watermark passes it, and that
first minute is the earliest one holding an accepted event *at that moment*, not the earliest of
the first batch: an on-time event for an earlier minute arriving in a later batch (within the
allowed lateness) still lands in its window. So the output never depends on how the input is cut.

Flush: ``flush()`` moves event time past the end of the data to close every window. The ticks it
adds past the minute of the latest event carry ``flush=True``: they describe time nobody has seen
yet, so the alarm rules do not judge them (``stream.alarms``): the end of the input is not an outage.

Input: events already validated (``stream.ingest``): face_expression and camera_heartbeat dicts.
The hot path reads only event_time_ms, event_id, site_id, camera_id, schema, quality.usable,
kind, track_id, top_class and valence.

Determinism: windows are emitted sorted by (end, site, camera, length) and carry ids derived from
(key, end, length) (``stream.ids.stable_event_id``); all sums are integers. Hence: any arrival
order within the allowed lateness gives the same windows as sorted input; a replayed batch
changes nothing (duplicates); and ``snapshot``/``restore`` in between changes nothing either.

API (stable; used by the AWS hosts):

    engine = WindowEngine(EngineConfig(...))
    out = engine.process(events)        # -> EngineOutput(ticks=[Tick(end_ms, windows, heartbeats)], late=[...],
                                        #    passed=[(index of an event that moved the watermark past a minute, it)])
    out.windows                         # all sentiment_window events of the call, in order
    engine.advance_watermark(ms)        # idle input: move event time on -> EngineOutput
    engine.flush()                      # end of input: close everything -> EngineOutput
    engine.watermark_ms, engine.max_event_time_ms, engine.stats (EngineStats)
    state = engine.snapshot()           # JSON-able dict
    engine = WindowEngine.restore(state[, config])  # config: the host's settings, else the saved ones
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from schemas.expressions import NEGATIVE as _NEGATIVE
from schemas.expressions import POSITIVE as _POSITIVE
from schemas.types import SentimentWindow
from stream.aggregate import CLASS_INDEX, WindowAggregate
from stream.engine_types import EngineConfig, EngineOutput, EngineStats, Tick
from stream.fingerprint import STRING_CRC as _STRING_CRC
from stream.fingerprint import UNKNOWN as _UNKNOWN
from stream.fingerprint import crc_of as _crc
from stream.fingerprint import fingerprint as _fingerprint
from stream.fingerprint import id_tables as _id_tables
from stream.measures import window_event
from stream.window_sums import CameraSums

MINUTE_MS = 60_000
_NEVER = -(1 << 62)
SNAPSHOT_VERSION = 2
_READABLE_SNAPSHOTS = (1, 2)  # 1: ids without content fingerprints (every copy then counts as plain)


def _aggregate(row: list[int]) -> WindowAggregate:
    """A window's totals from a row of ``_emit``'s integer sums."""
    return WindowAggregate(row[0], row[1], row[2], tuple(row[5:]), row[3], row[4])


class _Pane:
    __slots__ = ("crcs", "ends", "faces", "heartbeat", "low", "votes")

    def __init__(self, crcs: tuple[int, int]) -> None:
        self.crcs = crcs  # the fingerprint's CRCs of (site, camera): read once per key and minute, not per event
        self.faces = 0
        self.low = 0
        self.heartbeat = _NEVER
        self.votes: dict[str, tuple[int, str, str, float]] = {}
        self.ends: list[int] | None = None  # usable track_ends of the minute: [positive, negative, all]


class WindowEngine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.stats = EngineStats()
        self._max_t = _NEVER
        self._wm = _NEVER
        self._next_tick: int | None = None
        self._panes: dict[int, dict[tuple[str, str], _Pane]] = {}
        # event id -> content fingerprint of its first copy, per minute
        self._ids: dict[int, dict[str, int]] = {}  # open minutes
        self._old_ids: dict[int, dict[str, int]] = {}  # closed minutes, within the dedup horizon
        self._cameras: dict[tuple[str, str], CameraSums] = {}
        self._longest = self.config.window_minutes[-1]

    # ------------------------------------------------------------------ clock

    @property
    def watermark_ms(self) -> int | None:
        return None if self._wm == _NEVER else self._wm

    @property
    def max_event_time_ms(self) -> int | None:
        return None if self._max_t == _NEVER else self._max_t

    def advance_watermark(self, watermark_ms: int) -> EngineOutput:
        """Moves the watermark to at least ``watermark_ms`` (idle input) and emits what closes."""
        self._wm = max(self._wm, watermark_ms)
        return EngineOutput(self._advance(), [])

    def flush(self) -> EngineOutput:
        """End of input: closes every pane and emits every window that has data.

        Ticks past the minute of the latest event are marked ``flush`` (see the module docstring)."""
        last = max(self._panes) if self._panes else None
        if last is None and not self._cameras:
            return EngineOutput()
        end = (last + 1) * MINUTE_MS if last is not None else (self._next_tick or 0)
        data_end = (self._max_t // MINUTE_MS + 1) * MINUTE_MS if self._max_t != _NEVER else end
        out = self.advance_watermark(end + self._longest * MINUTE_MS)
        out.ticks = [Tick(t.end_ms, t.windows, t.heartbeats, True, t.customers) if t.end_ms > data_end else t
                     for t in out.ticks]
        return out

    # --------------------------------------------------------------- hot path

    def process(self, events: Iterable[Mapping[str, Any]]) -> EngineOutput:
        """Adds validated events; returns the ticks the watermark passed and the late events."""
        late: list[Mapping[str, Any]] = []
        lateness = self.config.allowed_lateness_ms
        horizon = self.config.dedup_horizon_ms
        max_t, wm = self._max_t, self._wm
        panes, ids_by_minute, old_ids = self._panes, self._ids, self._old_ids
        cur_minute = _NEVER
        cross = (wm // MINUTE_MS + 1) * MINUTE_MS  # the next minute boundary the watermark may pass
        passed: list[tuple[int, int]] = []
        cur_panes: dict[tuple[str, str], _Pane] = {}
        cur_ids: dict[str, int] = {}
        n = n_dup = n_conflict = n_late = n_low = n_faces = n_beats = 0
        crc, class_index = _STRING_CRC.get, CLASS_INDEX.get
        for event in events:
            n += 1
            t = event["event_time_ms"]
            if t > max_t:
                max_t = t
                if t - lateness > wm:
                    wm = t - lateness
                    if wm >= cross:
                        passed.append((n - 1, wm))
                        cross = (wm // MINUTE_MS + 1) * MINUTE_MS
            minute = t // MINUTE_MS
            if t < wm:
                eid = event["event_id"]
                if (minute + 1) * MINUTE_MS > wm - horizon:
                    ids = ids_by_minute.get(minute)
                    if ids is None:
                        ids = old_ids.get(minute)
                        if ids is None:
                            ids = old_ids[minute] = {}
                    first = ids.get(eid)
                    if first is not None:
                        if first != _UNKNOWN and first != _fingerprint(event):
                            n_conflict += 1
                        else:
                            n_dup += 1
                        continue
                    ids[eid] = _fingerprint(event)
                n_late += 1
                late.append(event)
                continue
            if minute != cur_minute:
                cur_minute = minute
                got = panes.get(minute)
                if got is None:
                    cur_panes = panes[minute] = {}
                    cur_ids = ids_by_minute[minute] = {}
                else:
                    cur_panes = got
                    cur_ids = ids_by_minute[minute]
            # Each field read once (events may be the fast path's structs, where a read costs a
            # Python call); the fingerprint is `stream.fingerprint.fingerprint`'s, inlined on these values.
            eid = event["event_id"]
            key = (event["site_id"], event["camera_id"])
            pane = cur_panes.get(key)
            if pane is None:
                site, camera = key
                a, b = crc(site), crc(camera)
                if a is None:
                    a = _crc(site)
                if b is None:
                    b = _crc(camera)
            else:
                a, b = pane.crcs
            face = event["schema"] == "face_expression"
            if face:
                track, kind, top, valence = event["track_id"], event["kind"], event["top_class"], event["valence"]
                usable = event["quality"].get("usable", True)
                c = crc(track)
                if c is None:
                    c = _crc(track)
                fingerprint = hash((t, a, b, c, kind == "track_end", class_index(top, -2), valence,
                                    usable is True)) & 0xFF
            else:
                fingerprint = hash((t, a, b)) & 0xFF
            first = cur_ids.get(eid)
            if first is not None:
                if first not in (_UNKNOWN, fingerprint):
                    n_conflict += 1
                else:
                    n_dup += 1
                continue
            cur_ids[eid] = fingerprint
            if pane is None:  # made only for an accepted event: a duplicate leaves no empty pane
                pane = cur_panes[key] = _Pane((a, b))
            if not face:
                pane.heartbeat = max(pane.heartbeat, t)
                n_beats += 1
                continue
            if not usable:
                pane.low += 1
                n_low += 1
                continue
            if kind == "track_update":
                pane.faces += 1
                n_faces += 1
            else:
                ends = pane.ends
                if ends is None:
                    ends = pane.ends = [0, 0, 0]
                ends[2] += 1
                if top in _POSITIVE:
                    ends[0] += 1
                elif top in _NEGATIVE:
                    ends[1] += 1
            votes = pane.votes
            old = votes.get(track)
            if old is None or t > old[0] or (t == old[0] and eid > old[1]):
                votes[track] = (t, eid, top, valence)
        self._max_t, self._wm = max_t, wm
        stats = self.stats
        stats.events += n
        stats.accepted += n - n_dup - n_conflict - n_late
        stats.duplicates += n_dup
        stats.conflicting_duplicates += n_conflict
        stats.late += n_late
        stats.low_quality += n_low
        stats.faces += n_faces
        stats.heartbeats += n_beats
        return EngineOutput(self._advance(), late, passed)

    # ---------------------------------------------------------------- windower

    def _advance(self) -> list[Tick]:
        ticks: list[Tick] = []
        if self._next_tick is None:
            # The first tick is fixed only once the watermark reaches it: until then an on-time event
            # for an earlier minute may still arrive (in a later batch) and must get its window.
            if not self._panes or (min(self._panes) + 1) * MINUTE_MS > self._wm:
                return ticks
            self._next_tick = (min(self._panes) + 1) * MINUTE_MS
        wm = self._wm
        while self._next_tick <= wm:
            if not self._cameras:
                self._skip_idle(wm)
                if self._next_tick > wm:
                    break
            ticks.append(self._tick(self._next_tick))
            self._next_tick += MINUTE_MS
        self.stats.ticks += len(ticks)
        return ticks

    def _skip_idle(self, wm: int) -> None:
        """Nothing open: jump over a long gap, keeping the last ``max_idle_ticks`` boundaries."""
        assert self._next_tick is not None
        target = wm // MINUTE_MS * MINUTE_MS
        if self._panes:
            target = min(target, (min(self._panes) + 1) * MINUTE_MS)
        keep = self.config.max_idle_ticks * MINUTE_MS
        if target - self._next_tick > keep:
            self._next_tick = target - keep

    def _tick(self, end: int) -> Tick:
        minute = end // MINUTE_MS - 1
        beats: list[tuple[str, str, int]] = []
        customers: list[tuple[str, str, int, int, int]] = []
        panes = self._panes.pop(minute, None)
        ids = self._ids.pop(minute, None)
        if ids is not None:
            self._old_ids[minute] = ids
        forget = (end - self.config.dedup_horizon_ms) // MINUTE_MS
        for old in [m for m in self._old_ids if m < forget - 1]:
            del self._old_ids[old]
        if panes:
            for key, pane in panes.items():
                if pane.heartbeat != _NEVER:
                    beats.append((key[0], key[1], pane.heartbeat))
                if pane.ends is not None:
                    customers.append((key[0], key[1], *pane.ends))  # type: ignore[arg-type]
                if pane.faces or pane.low or pane.votes:
                    camera = self._cameras.get(key)
                    if camera is None:
                        camera = self._cameras[key] = CameraSums(len(self.config.window_minutes))
                    camera.close(minute, pane.faces, pane.low, pane.votes, self.config.window_minutes)
            beats.sort()
            customers.sort()
        windows = self._emit(end) if self._cameras else []
        self.stats.windows += len(windows)
        return Tick(end, windows, beats, False, customers)

    def _emit(self, end: int) -> list[SentimentWindow]:
        """Windows ending at ``end`` for every camera with data in the longest window, and its site."""
        lengths = self.config.window_minutes
        last = end // MINUTE_MS - 1  # the newest minute inside the windows
        per_site: dict[str, list[tuple[str, list[list[int]]]]] = {}
        cameras = self._cameras
        for key in sorted(cameras):
            camera = cameras[key]
            if not camera.advance(last, lengths):
                del cameras[key]
                continue
            per_site.setdefault(key[0], []).append((key[1], camera.totals))
        min_tracks = self.config.min_tracks
        windows: list[SentimentWindow] = []
        for site, entries in per_site.items():  # sites come in sorted order: cameras were sorted
            for b, length in enumerate(lengths):
                site_row = [sum(column) for column in zip(*(rows[b] for _, rows in entries), strict=True)]
                windows.append(window_event(site, None, end, length, _aggregate(site_row), min_tracks))
            for camera_id, rows in entries:
                for b, length in enumerate(lengths):
                    windows.append(window_event(site, camera_id, end, length, _aggregate(rows[b]), min_tracks))
        return windows

    # ---------------------------------------------------------------- state

    def snapshot(self) -> dict[str, Any]:
        """The whole state as a JSON-able dict (canonical: equal states give equal snapshots)."""
        return {
            "version": SNAPSHOT_VERSION,
            "config": self.config.to_json(),
            "stats": asdict(self.stats),
            "max_t": self._max_t, "wm": self._wm, "next_tick": self._next_tick,
            "panes": [[minute, site, camera, p.faces, p.low, p.heartbeat,
                       [[track, *vote] for track, vote in sorted(p.votes.items())]]
                      for minute in sorted(self._panes)
                      for (site, camera), p in sorted(self._panes[minute].items())],
            "ids": [[minute, sorted(ids)] for minute, ids in sorted(self._ids.items())],
            "old_ids": [[minute, sorted(ids)] for minute, ids in sorted(self._old_ids.items())],
            # each id's fingerprint, in the order of "ids" / "old_ids" (kept apart: readers of the id lists)
            "id_fingerprints": [[minute, [ids[i] for i in sorted(ids)]] for minute, ids in sorted(self._ids.items())],
            "old_id_fingerprints": [[minute, [ids[i] for i in sorted(ids)]]
                                    for minute, ids in sorted(self._old_ids.items())],
            # the open panes' customers (kept apart from "panes": readers of its seven fields)
            "pane_customers": [[minute, site, camera, *p.ends]
                               for minute in sorted(self._panes)
                               for (site, camera), p in sorted(self._panes[minute].items()) if p.ends is not None],
            "cameras": [[site, camera, *c.to_json()] for (site, camera), c in sorted(self._cameras.items())],
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any], config: EngineConfig | None = None) -> WindowEngine:
        """The engine a snapshot holds. ``config``: the host's settings, which replace the saved ones (a
        restart with a new ``min_tracks`` suppresses by the new one from the next window on). The state
        holds minutes, not windows, so other window lengths are summed from the same minutes; a length
        longer than the saved longest lacks the minutes before the restart until it has filled."""
        if state.get("version") not in _READABLE_SNAPSHOTS:
            raise ValueError(f"unsupported engine snapshot version {state.get('version')!r}")
        engine = cls(config or EngineConfig.from_json(state["config"]))
        engine.stats = EngineStats(**state["stats"])
        engine._max_t, engine._wm, engine._next_tick = state["max_t"], state["wm"], state["next_tick"]
        for minute, site, camera, faces, low, heartbeat, votes in state["panes"]:
            pane = _Pane((_crc(site), _crc(camera)))
            pane.faces, pane.low, pane.heartbeat = faces, low, heartbeat
            pane.votes = {v[0]: (v[1], v[2], v[3], v[4]) for v in votes}
            engine._panes.setdefault(minute, {})[(site, camera)] = pane
        for minute, site, camera, positive, negative, customers in state.get("pane_customers", []):
            engine._panes[minute][(site, camera)].ends = [positive, negative, customers]
        engine._ids = _id_tables(state["ids"], state.get("id_fingerprints"))
        for minute in engine._panes:
            engine._ids.setdefault(minute, {})
        engine._old_ids = _id_tables(state["old_ids"], state.get("old_id_fingerprints"))
        last = None if engine._next_tick is None else engine._next_tick // MINUTE_MS - 2  # of the latest tick
        for site, camera, tracks, minutes in state["cameras"]:
            engine._cameras[(site, camera)] = CameraSums.from_json(tracks, minutes, engine.config.window_minutes, last)
        return engine


__all__ = ["MINUTE_MS", "EngineConfig", "EngineOutput", "EngineStats", "Tick", "WindowEngine"]
