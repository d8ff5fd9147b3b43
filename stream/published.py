"""The windows as readers get them: a camera window hidden beside another camera's too few customers.

The engine suppresses each window on its own (`stream.measures`: fewer than ``min_tracks`` tracks,
every measure null). A site's window minus its cameras' shown windows of the same end and length is
the hidden cameras' window, so one hidden camera's score would come back from the others'. Before the
windows leave the host (windows.jsonl, Firehose, CloudWatch: every output gets `Emitted.windows`),
each (site, end, length) group goes through the privacy rule (`schemas.privacy.complements`), and a
camera window it names is published as an insufficient one: ``insufficient_data`` true, every measure
null, its counts kept. Such a window is told apart from one with too few customers by its ``tracks``,
``min_tracks`` or more.

The alarm rules judge the engine's windows as they are (`stream.host.sites` hands them the tick
before this step): what is hidden from readers still counts as evidence. An alarm of the tick judged
on a window readers get hidden (its site, camera, end and the alarms' window length) would tell its
score in its reason and ``value``; it is published without them (`published_alarms`): its reason
says why the window is not shown (`stream.alarm_words.latest_not_shown`), its ``value`` is null.
The rules' state is not touched: only the events that leave the host change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas.contract import SENTIMENT_ALARM
from schemas.privacy import complements
from schemas.types import SentimentAlarm, SentimentWindow
from stream.alarm_words import latest_not_shown

REASON_MAX = SENTIMENT_ALARM.field_named("reason").max_length
MEASURES = ("shares", "mean_valence", "valence_ci", "net_score", "net_score_ci")


def as_hidden(window: SentimentWindow) -> SentimentWindow:
    """The window as an insufficient one: measures null, counts kept."""
    out = window.copy()
    out["insufficient_data"] = True
    for name in MEASURES:
        out[name] = None  # type: ignore[literal-required]
    return out


def published(windows: Sequence[SentimentWindow], min_tracks: int) -> list[SentimentWindow]:
    """``windows`` (one or more ticks of the engine's, any order) with the complements hidden; each in its
    place. A group without a camera window too few to show (the usual case) is passed as it is."""
    if not any(w["insufficient_data"] and w["tracks"] and w["camera_id"] is not None for w in windows):
        return list(windows)
    groups: dict[tuple[str, int, int], tuple[list[SentimentWindow], list[int]]] = {}
    for index, w in enumerate(windows):
        key = (w["site_id"], w["window_end_ms"], w["window_minutes"])
        group = groups.setdefault(key, ([], []))
        if w["camera_id"] is None:
            group[0].append(w)
        else:
            group[1].append(index)
    out = list(windows)
    for sites, cameras in groups.values():
        site_shown = bool(sites) and not sites[0]["insufficient_data"]
        parts = [windows[i] for i in cameras]
        more = complements([w["tracks"] for w in parts], [not w["insufficient_data"] for w in parts], min_tracks,
                           site_shown)
        for i, hide in zip(cameras, more, strict=True):
            if hide:
                out[i] = as_hidden(windows[i])
    return out


def published_alarms(alarms: Sequence[SentimentAlarm], windows: Sequence[SentimentWindow], window_minutes: int,
                     min_tracks: int) -> list[SentimentAlarm]:
    """``alarms`` of a tick with ``windows`` (that tick's, as `published` made them): one judged on a hidden
    window (``window_minutes`` long, ending at the alarm's time) without that window's score; each in its
    place. ``min_tracks``: the engine's, telling a complement from a window with too few customers."""
    if not alarms or not any(w["insufficient_data"] for w in windows):
        return list(alarms)
    hidden = {(w["site_id"], w["camera_id"], w["window_end_ms"]): w for w in windows
              if w["insufficient_data"] and w["window_minutes"] == window_minutes}
    out = []
    for alarm in alarms:
        window = hidden.get((alarm["site_id"], alarm["camera_id"], alarm["event_time_ms"]))
        reason = None if window is None else latest_not_shown(alarm["reason"], window_minutes, window["tracks"],
                                                              window["tracks"] >= min_tracks)
        told = alarm
        if reason is not None:
            told = alarm.copy()
            told["reason"], told["value"] = reason[:REASON_MAX], None
        out.append(told)
    return out


def hidden_for_another(camera: str | None, insufficient: bool, tracks: int, min_tracks: int | None) -> bool:
    """Whether a published window is a camera's that `published` hid for another camera's sake: insufficient,
    yet ``min_tracks`` customers or more (readers tell it by these, the contract has no field for it).
    ``min_tracks`` None (no state saved yet): not known, so not said."""
    return bool(camera) and min_tracks is not None and insufficient and tracks >= min_tracks


def saved_min_tracks(site_state: Mapping[str, Any]) -> int | None:
    """The ``min_tracks`` a site's saved state (`stream.host.sites.SiteState.snapshot`) windows with: a
    reader of the published windows tells a complement (``min_tracks`` tracks or more, yet insufficient)
    from a window with too few by it. None when the state does not say."""
    engine = site_state.get("engine")
    config = engine.get("config") if isinstance(engine, Mapping) else None
    value = config.get("min_tracks") if isinstance(config, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
