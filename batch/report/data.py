"""The report's numbers, as tables: everything the HTML shows is also a CSV export.

One rule everywhere: a sentiment aggregate over fewer than ``min_tracks`` customers is suppressed
(its value is empty and ``suppressed`` is true), never shown as a number. A camera hour without a
heartbeat is ``offline``: no value, never zero, and only once the hour is over. Hours are
instants (epoch-hour milliseconds); they are shown, and grouped into days and weekdays, in the
site's local time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from batch.analytics import source
from batch.analytics.forecast import hour_of_week
from batch.analytics.measures import Estimate, mean_valence, net_score, net_score_change
from batch.analytics.source import Period
from schemas.privacy import hidden_with_complements

HOUR_MS = 3_600_000


def iso(ms: float, timezone: str = "UTC") -> str:
    """The instant as local wall-clock time, e.g. 2026-10-25 02:00 (the hour that happens twice
    carries its UTC offset then, to tell the two apart)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(timezone))
    text = moment.strftime("%Y-%m-%d %H:%M")
    if timezone != "UTC" and moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset():
        text += moment.strftime(" (UTC%z)")
    return text


def local_day(ms: np.ndarray | pd.Series, timezone: str = "UTC") -> pd.Index:
    """Each instant's local calendar date."""
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ms, dtype=np.int64), unit="ms", utc=True)
                            ).tz_convert(timezone).normalize().tz_localize(None)


@dataclass
class Totals:
    visits: int
    tracks: int
    positive: int
    negative: int
    valence_sum: float
    valence_sumsq: float

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Totals:
        def total(column: str) -> float:
            return float(frame[column].fillna(0).sum()) if len(frame) and column in frame else 0.0

        return cls(int(total("visits")), int(total("tracks")), int(total("positive")), int(total("negative")),
                   total("valence_sum"), total("valence_sumsq"))

    def net(self, min_tracks: int) -> Estimate | None:
        return net_score(self.positive, self.negative, self.tracks, min_tracks)

    def valence(self, min_tracks: int) -> Estimate | None:
        return mean_valence(self.valence_sum, self.valence_sumsq, self.tracks, min_tracks)

    def change(self, before: Totals, min_tracks: int) -> Estimate | None:
        return net_score_change((self.positive, self.negative, self.tracks),
                                (before.positive, before.negative, before.tracks), min_tracks)


def complements(frame: pd.DataFrame, min_tracks: int, groups: list[str]) -> pd.Series:
    """The rows to hide within each group of `groups` (`schemas.privacy.hidden_with_complements`)."""
    hidden = pd.Series(False, index=frame.index)
    if len(frame):
        for _, rows in frame.groupby(groups, sort=False):
            hidden[rows.index] = hidden_with_complements([int(t) for t in rows["tracks"]], min_tracks)
    return hidden


def with_local_days(frame: pd.DataFrame, zone_of: Callable[[str], str]) -> pd.DataFrame:
    """`frame` with `local_day`: each row's hour_ms as a local date in its own site's zone."""
    days = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    for site, rows in frame.groupby("site_id", sort=False):
        days[rows.index] = local_day(rows["hour_ms"], zone_of(str(site)))
    return frame.assign(local_day=days)


def day_complements(frame: pd.DataFrame, min_tracks: int, zone_of: Callable[[str], str]) -> pd.Series:
    """The site hours to hide within each site's local day, by the views' rule (the fewest customers
    first, ties to the earlier hour: `batch.sql.views`), so the report hides every hour the
    `sentiment_by_hour_site` view hides: neither shows an hour the other hid for a day's sake."""
    ordered = with_local_days(frame, zone_of).sort_values(["site_id", "local_day", "hour_ms"], kind="stable")
    return complements(ordered, min_tracks, ["site_id", "local_day"]).reindex(frame.index)


def with_net(frame: pd.DataFrame, min_tracks: int, groups: list[str] | None = None,
             also_hidden: pd.Series | None = None) -> pd.DataFrame:
    """Adds net_score, net_low, net_high (empty when suppressed) and suppressed to per-hour rows.

    `groups`: the columns whose rows add up to a total shown elsewhere (the site's headline, the
    camera's line): within each, cells are hidden with complements (`hidden_with_complements`).
    `also_hidden`: rows hidden besides (each either under min_tracks, so hidden anyway, or holding
    min_tracks itself, so no group's hidden rows drop under min_tracks for it)."""
    hidden = complements(frame, min_tracks, groups) if groups else pd.Series(False, index=frame.index)
    if also_hidden is not None:
        hidden |= also_hidden
    estimates = [None if h else net_score(int(p), int(n), int(t), min_tracks)
                 for p, n, t, h in zip(frame["positive"], frame["negative"], frame["tracks"], hidden, strict=True)]
    out = frame.copy()
    out["net_score"] = [e.value if e else None for e in estimates]
    out["net_low"] = [e.low if e else None for e in estimates]
    out["net_high"] = [e.high if e else None for e in estimates]
    out["suppressed"] = [e is None for e in estimates]
    return out


def hour_grid(period: Period) -> np.ndarray:
    first = period.since_ms // HOUR_MS * HOUR_MS
    return np.arange(first, period.until_ms, HOUR_MS, dtype=np.int64)


def camera_status(con: duckdb.DuckDBPyConnection, period: Period, by_camera: pd.DataFrame,
                  min_tracks: int, now_ms: int | None = None, site_hours: pd.DataFrame | None = None,
                  zone_of: Callable[[str], str] = lambda site: "UTC") -> pd.DataFrame:
    """Every camera x hour of the period: offline (no heartbeat), visits and net score when shown.

    A camera hour is hidden with complements within each total shown elsewhere: its camera's line,
    its site hour (`site_hours`, as shown: also wherever that is hidden), and the views' camera day
    and site day (local days by `zone_of`), so that none of them minus the camera hours shown gives
    a hidden one back."""
    beats = source.camera_hours(con, period)
    with_heartbeats = set(zip(beats["site_id"], beats["camera_id"], strict=True)) if len(beats) else set()
    hours = hour_grid(period)
    rows = []
    for site, camera in source.cameras(con, period.site):
        rows.append(pd.DataFrame({"site_id": site, "camera_id": camera, "hour_ms": hours,
                                  "reports_heartbeats": (site, camera) in with_heartbeats}))
    if not rows:
        return pd.DataFrame(columns=["site_id", "camera_id", "hour_ms", "offline", "visits", "tracks", "positive",
                                     "negative", "net_score", "net_low", "net_high", "suppressed"])
    grid = pd.concat(rows, ignore_index=True)
    grid = grid.merge(beats, how="left", on=["site_id", "camera_id", "hour_ms"])
    grid["heartbeats"] = grid["heartbeats"].fillna(0).astype("int64")
    grid = grid.merge(by_camera[["site_id", "camera_id", "hour_ms", "visits", "tracks", "positive", "negative"]],
                      how="left", on=["site_id", "camera_id", "hour_ms"])
    for column in ("visits", "tracks", "positive", "negative"):
        grid[column] = grid[column].fillna(0).astype("int64")
    # A camera that reports heartbeats and sent none in an hour, and saw nobody, was offline then;
    # but only between its first heartbeat and the data's latest one: before, it was not installed
    # yet; after, the data has not arrived yet (the rest of today is no outage).
    first, latest = source.heartbeat_lifetimes(con, period.site)
    grid = grid.merge(first, how="left", on=["site_id", "camera_id"])
    known = (grid["hour_ms"] + HOUR_MS > grid["first_ms"]) & (grid["hour_ms"] <= (latest if latest is not None else -1))
    if now_ms is not None:  # an hour not lived yet, or still running, is no outage
        known &= grid["hour_ms"] + HOUR_MS <= now_ms
    grid["offline"] = grid["reports_heartbeats"] & (grid["heartbeats"] == 0) & (grid["visits"] == 0) & known
    dated = with_local_days(grid, zone_of)
    by_hour = complements(grid, min_tracks, ["site_id", "hour_ms"]) | \
        complements(dated, min_tracks, ["site_id", "camera_id", "local_day"]) | \
        complements(dated, min_tracks, ["site_id", "local_day"])
    if site_hours is not None and len(site_hours):
        hidden_hours = site_hours.loc[site_hours["suppressed"], ["site_id", "hour_ms"]].assign(site_hidden=True)
        flags = grid[["site_id", "hour_ms"]].merge(hidden_hours, how="left", on=["site_id", "hour_ms"])
        by_hour |= flags["site_hidden"].fillna(False).astype(bool).to_numpy()
    grid = with_net(grid, min_tracks, ["site_id", "camera_id"], also_hidden=by_hour)
    grid.loc[grid["offline"], ["net_score", "net_low", "net_high"]] = None
    return grid.drop(columns=["reports_heartbeats", "first_ms"])


def offline_spans(status: pd.DataFrame) -> pd.DataFrame:
    """Consecutive offline hours per camera: site, camera, from, to, hours."""
    spans = []
    for (site, camera), rows in status[status["offline"]].groupby(["site_id", "camera_id"], sort=True):
        hours = rows["hour_ms"].to_numpy()
        breaks = np.flatnonzero(np.diff(hours) != HOUR_MS)
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks, [len(hours) - 1]])
        for s, e in zip(starts, ends, strict=True):
            spans.append({"site_id": site, "camera_id": camera, "from_ms": int(hours[s]),
                          "to_ms": int(hours[e]) + HOUR_MS, "hours": int(e - s + 1)})
    return pd.DataFrame(spans, columns=["site_id", "camera_id", "from_ms", "to_ms", "hours"])


def heatmap_cells(hourly: pd.DataFrame, min_tracks: int, timezone: str = "UTC"
                  ) -> tuple[dict[tuple[int, int], tuple[float | None, int]], pd.DataFrame]:
    """(local weekday, local hour) -> (net score or None when suppressed, tracks), and the same as a table.
    With `hourly`'s suppressed column, a cell holding one of its hidden hours is hidden too."""
    frame = hourly.assign(how=hour_of_week(hourly["hour_ms"].to_numpy(), timezone)) if len(hourly) else \
        hourly.assign(how=pd.Series(dtype="int64"))
    grouped = frame.groupby("how")[["tracks", "positive", "negative"]].sum()
    hidden = hidden_with_complements([int(t) for t in grouped["tracks"]], min_tracks)
    if "suppressed" in frame:  # a cell holding an hour the hourly table hides would give it back
        holds_hidden = frame[frame["suppressed"] & (frame["tracks"] > 0)]["how"].unique()
        hidden = [h or how in holds_hidden for h, how in zip(hidden, grouped.index, strict=True)]
    cells: dict[tuple[int, int], tuple[float | None, int]] = {}
    rows = []
    for (how, row), hide in zip(grouped.iterrows(), hidden, strict=True):
        estimate = None if hide else net_score(int(row["positive"]), int(row["negative"]), int(row["tracks"]),
                                               min_tracks)
        key = (int(how) // 24, int(how) % 24)
        cells[key] = (estimate.value if estimate else None, int(row["tracks"]))
        rows.append({"weekday": key[0], "hour": key[1], "tracks": int(row["tracks"]),
                     "net_score": estimate.value if estimate else None, "suppressed": estimate is None})
    return cells, pd.DataFrame(rows, columns=["weekday", "hour", "tracks", "net_score", "suppressed"])


def busiest_hours(hourly: pd.DataFrame, count: int = 3, timezone: str = "UTC") -> str:
    if hourly.empty:
        return ""
    weekdays = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    by_how = hourly.assign(how=hour_of_week(hourly["hour_ms"].to_numpy(), timezone)).groupby("how")["visits"].sum()
    top = by_how.sort_values(ascending=False, kind="stable").head(count)
    return ", ".join(f"{weekdays[int(h) // 24]} {int(h) % 24:02d}:00 ({int(v)})" for h, v in top.items())


def alarm_episodes(alarms: pd.DataFrame, until_ms: int, timezone: str = "UTC"
                   ) -> dict[tuple[str, str | None], list[tuple[int, int, str]]]:
    """(site, camera or None) -> [(raised, cleared or period end, what)], from ALARM/OK state changes."""
    open_since: dict[tuple[str, str | None, str], tuple[int, str]] = {}
    episodes: dict[tuple[str, str | None], list[tuple[int, int, str]]] = {}
    for a in alarms.itertuples():
        camera = None if a.camera_id is None or pd.isna(a.camera_id) else str(a.camera_id)
        key = (str(a.site_id), camera, str(a.rule))
        if a.state == "ALARM" and key not in open_since:
            open_since[key] = (int(a.time_ms), f"{a.rule}: {a.reason}")
        elif a.state == "OK" and key in open_since:
            start, what = open_since.pop(key)
            until = iso(a.time_ms, timezone)
            episodes.setdefault(key[:2], []).append((start, int(a.time_ms), f"{what} (until {until})"))
    for key, (start, what) in open_since.items():
        episodes.setdefault(key[:2], []).append((start, until_ms, f"{what} (still raised)"))
    return episodes


def with_local_time(frame: pd.DataFrame, stamp: str, column: str, zone_of: Callable[[str], str]) -> pd.DataFrame:
    """`frame` with `column`, each row's `stamp` (epoch ms) in its own site's local time, and that zone: a
    spreadsheet reads the time the site lived, never an epoch or another site's clock."""
    zones = [zone_of(str(site)) for site in frame["site_id"]]
    return frame.assign(**{column: [iso(int(ms), zone) for ms, zone in zip(frame[stamp], zones, strict=True)],
                           "timezone": zones})
