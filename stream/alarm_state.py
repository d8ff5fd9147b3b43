"""The alarm engine's saved state (`AlarmEngine.snapshot`): its shape, its versions, and how an older one
is read. The engine's fields are this module's to write and read; the rules never see this shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from stream.alarm_config import AlarmConfig
from stream.alarm_machine import Machine
from stream.baseline import DayBaseline, Reference, rekeyed
from stream.sequential import Cusum
from stream.window_evidence import UTC, SiteClock

if TYPE_CHECKING:
    from stream.alarms import AlarmEngine

ALARM_STATE_VERSION = 4


def snapshot(engine: AlarmEngine) -> dict[str, Any]:
    return {
        "version": ALARM_STATE_VERSION,
        "config": asdict(engine.config),
        "machines": [[*key, m.state, m.history, m.raised_ms, m.data_ms, m.seen_ms]
                     for key, m in sorted(engine._machines.items())],
        "day_baselines": [[site, key, b.to_json()] for (site, key), b in sorted(engine._baselines.items())],
        "last_beat": [[site, camera, t] for (site, camera), t in sorted(engine._last_beat.items())],
        "data": [[site, camera, t] for (site, camera), t in sorted(engine._data.items())],
        "cusums": [[site, camera, *s.to_json()] for (site, camera), s in sorted(engine._cusums.items())],
        "traffic": [[site, days] for site, days in sorted(engine._traffic.items())],
        "zones": {site: engine._clock_of(site).zone
                  for site in sorted({s for s, _ in engine._baselines} | set(engine._traffic))},
    }


def restore(engine_type: type[AlarmEngine], state: Mapping[str, Any], config: AlarmConfig | None,
            zones: Mapping[str, str] | None) -> AlarmEngine:
    """Reads this version's state and versions 1 to 3. Version 1 (no ``version`` key) has machines
    without their raise and last-data times: a restored raised alarm has served its hold, and
    resolves after quiet_minutes without customers counted from the first tick after the restore.
    Versions 1 and 2 kept a baseline of overlapping samples (count, sum, squares) that cannot be
    split into days: it is dropped, and the baselines learn again (`stream.baseline`). Version 3 kept the
    baselines in UTC hours and days: each day's sample moves to the local hour and day it was at in the
    site's zone (`stream.baseline.rekeyed`; exact: one row is one UTC hour of one day).

    ``zones``: the sites' zones from now on (None: the ones stored); a site whose zone changed since the
    state was saved has its baselines moved the same way. Its traffic days stay as they are (a day's
    customers cannot be split; the median of a week of them hardly moves).

    ``config``: the settings to judge with from now on (a host restarted with other settings applies
    them to the sites it already knew); without it, the settings stored in the state (settings this
    version no longer has are left out, with their defaults in their place)."""
    version = state.get("version", 1)
    if version not in (1, 2, 3, ALARM_STATE_VERSION):
        raise ValueError(f"alarm state version {version!r}, this engine reads 1 to {ALARM_STATE_VERSION}")
    if config is None:
        known = {f.name for f in fields(AlarmConfig)}
        config = AlarmConfig(**{k: v for k, v in state["config"].items() if k in known})
    kept = dict(state.get("zones", {})) if version == ALARM_STATE_VERSION else {}
    engine = engine_type(config, kept if zones is None else zones)
    if version == 1:
        engine._machines = {(r, s, c): Machine(st, h) for r, s, c, st, h in state["machines"]}
    else:
        engine._machines = {(r, s, c): Machine(st, h, raised, data, seen)
                            for r, s, c, st, h, raised, data, seen in state["machines"]}
    engine._last_beat = {(s, c): t for s, c, t in state["last_beat"]}
    if version >= 3:
        engine._baselines = rekeyed({(s, k): DayBaseline.from_json(rows) for s, k, rows in state["day_baselines"]},
                                    lambda site: SiteClock(kept.get(site, UTC)), engine._clock_of,
                                    config.baseline_keep_days)
        engine._data = {(s, c): t for s, c, t in state["data"]}
        engine._cusums = {(s, c): Cusum.from_json(row) for s, c, *row in state["cusums"]}
        engine._traffic = {s: [list(d) for d in days] for s, days in state["traffic"]}
    return engine


def baseline_zone(state: Mapping[str, Any], site: str) -> str:
    """The zone whose local hours ``baseline_levels`` gives for ``site`` (a state before version 4: UTC)."""
    return str(state.get("zones", {}).get(site, UTC)) if state.get("version", 1) == ALARM_STATE_VERSION else UTC


def baseline_levels(state: Mapping[str, Any], site: str, min_days: int | None = None) -> dict[int, Reference]:
    """hour of the week (the site's local one, in ``baseline_zone``) -> the usual mood there, from an alarm
    state (``AlarmEngine.snapshot``) of any readable version: the reader for pages that draw the baseline
    curve. States before version 3 hold none."""
    if state.get("version", 1) not in (3, ALARM_STATE_VERSION):
        return {}
    days = AlarmConfig().baseline_min_days if min_days is None else min_days
    out = {}
    for s, key, rows in state["day_baselines"]:
        if s == site and key.startswith("w"):
            found = DayBaseline.from_json(rows).reference(days)
            if found is not None:
                out[int(key[1:])] = found
    return out
