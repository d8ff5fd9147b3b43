"""Drivers: how each kind of business event goes with sentiment, controlling for hour of week and site.

The business-events file (CSV, UTF-8, header required, extra columns ignored):

    time,site,kind,value
    2026-10-02T12:00:00Z,cafe-central,promotion,1
    2026-10-02T12:05:31Z,cafe-central,queue_length,4

* ``time``: ISO 8601 with a time zone (``Z`` or ``+02:00``); the row applies to the hour containing it;
* ``site``: the site id, as in the events; ``kind``: a name (letters, digits, ``_``), e.g. a menu
  item, a promotion, a queue length, a staffing level; ``value``: a finite number (1 for on/off kinds).

A kind's value in a (site, hour) is the mean of its rows in that hour, 0 when it has none.

Model: weighted least squares of the hourly net score (weights: the hour's customers) on every
kind's value plus a fixed effect for each (site, hour of week) cell, with heteroskedasticity-robust (HC3)
standard errors, over hours with at least ``min_tracks`` customers. Each kind's coefficient is the
change in net score per unit of value, with a 95% interval. This is an association: a kind that
happens when customers are happier for another reason (a sunny day, a holiday) gets the credit.
It is not proof of cause.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from batch.analytics.forecast import HOUR_MS, hour_of_week
from batch.analytics.measures import Z_975
from schemas.privacy import DEFAULT_MIN_TRACKS
from schemas.validation import identifier_problem

COLUMNS = ("time", "site", "kind", "value")
KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_REPORTED = 20
CAVEAT = ("Association, not proof of cause: each estimate compares hours with and without the event at the same "
          "site and hour of the week; anything else that happens together with it is credited to it.")


class BusinessEventsError(ValueError):
    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        super().__init__(f"{path}: {len(problems)} bad line(s):\n  " + "\n  ".join(shown) + more)


def _parse_time(text: str) -> tuple[int, int]:
    """(epoch ms, UTC offset in minutes as written)."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError(f"time {text!r} has no time zone; write e.g. {text.strip()}Z for UTC")
    offset = stamp.utcoffset()
    return int(stamp.timestamp() * 1000), int(offset.total_seconds() // 60) if offset is not None else 0


def zone_mismatch(business: pd.DataFrame, timezone: str, path: str) -> str | None:
    """A line for the user when rows are written with UTC offsets that are not the site's at their
    time (neither UTC nor `timezone`): the times still count as the instants they name, but the
    file was probably made for another site or with a wrong clock."""
    if business.empty or "utc_offset_min" not in business:
        return None
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    local = [int(datetime.fromtimestamp(t / 1000, zone).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
             for t in business["time_ms"]]
    odd = [(o, t) for o, t, z in zip(business["utc_offset_min"], business["time_ms"], local, strict=True)
           if o not in (0, z)]
    if not odd:
        return None
    offsets = sorted({f"{'+' if o >= 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}" for o, _ in odd})
    return (f"{path}: {len(odd)} of {len(business)} rows are written with UTC offset(s) {', '.join(offsets)}, "
            f"which is not the site's time zone ([site] timezone = {timezone}) at their time; they are read as "
            f"the instants they name (check the file's site and clock)")


def parse_business_events(lines: Iterable[str], path: str = "<business events>") -> pd.DataFrame:
    """Rows (time_ms, site_id, kind, value); raises BusinessEventsError naming every bad line."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise BusinessEventsError(path, ["line 1: the file is empty; expected the header time,site,kind,value"])
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise BusinessEventsError(path, [f"line 1: header lacks column(s) {', '.join(missing)}; "
                                         f"expected time,site,kind,value"])
    where = {c: names.index(c) for c in COLUMNS}
    rows: list[tuple[int, str, str, float, int]] = []
    problems: list[str] = []
    for line, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) < len(names):
            problems.append(f"line {line}: {len(record)} column(s), the header has {len(names)}")
            continue
        cells = {c: record[i].strip() for c, i in where.items()}
        bad: list[str] = []
        try:
            time_ms, offset = _parse_time(cells["time"])
        except ValueError as error:
            bad.append(f"time: {error}")
        if why := identifier_problem(cells["site"]):
            bad.append(f"site: {why}")
        if not KIND.match(cells["kind"]):
            bad.append(f"kind: {cells['kind']!r} must be a name (letters, digits, _)")
        try:
            value = float(cells["value"])
            if not math.isfinite(value):
                bad.append(f"value: {cells['value']!r} is not finite")
        except ValueError:
            bad.append(f"value: {cells['value']!r} is not a number")
        if bad:
            problems.extend(f"line {line}: {b}" for b in bad)
            continue
        rows.append((time_ms, cells["site"], cells["kind"], value, offset))
    if problems:
        raise BusinessEventsError(path, problems)
    return pd.DataFrame(rows, columns=["time_ms", "site_id", "kind", "value", "utc_offset_min"])


def read_business_events(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"business events file {path} does not exist")
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_business_events(handle, str(path))


@dataclass(frozen=True)
class Driver:
    kind: str
    effect: float | None  # change in net score per unit of value
    low: float | None
    high: float | None
    p_value: float | None
    hours_with: int  # rated hours where the kind was present
    note: str = ""


@dataclass(frozen=True)
class DriversResult:
    drivers: list[Driver]
    hours: int
    sites: list[str]
    unmatched_rows: int  # business rows at sites or hours without customers
    caveat: str = CAVEAT


def within_wls_hc3(y: np.ndarray, x: np.ndarray, w: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of y on x plus one fixed effect per cell, with HC3 standard errors of
    x's coefficients, without building the cell dummies (20 sites x 168 hours of the week were
    3,360 columns and most of a report's time). The fixed effects are swept out by weighted
    within-cell demeaning (Frisch-Waugh-Lovell); a row's leverage is its share of its cell's
    weight plus its leverage in the demeaned regression, so the HC3 sandwich equals the one of the
    regression with dummies. Cells of one row say nothing about x and are left out."""
    codes, sizes = np.unique(cells, return_inverse=True, return_counts=True)[1:]
    keep = sizes[codes] > 1
    y, x, w, codes = y[keep], x[keep], w[keep], np.unique(codes[keep], return_inverse=True)[1]
    cell_w = np.bincount(codes, weights=w)

    def within(values: np.ndarray) -> np.ndarray:
        means = np.stack([np.bincount(codes, weights=w * col) for col in values.T], axis=1) / cell_w[:, None]
        return values - means[codes]

    xt, yt = within(x), within(y[:, None])[:, 0]
    bread = np.linalg.pinv(xt.T @ (w[:, None] * xt))
    beta = bread @ (xt.T @ (w * yt))
    residual = yt - xt @ beta
    leverage = w / cell_w[codes] + w * np.einsum("ij,jk,ik->i", xt, bread, xt)
    scale = (w * residual / np.maximum(1.0 - leverage, 1e-12)) ** 2
    meat = xt.T @ (scale[:, None] * xt)
    return beta, np.sqrt(np.diag(bread @ meat @ bread))


def estimate_drivers(hourly: pd.DataFrame, business: pd.DataFrame, min_tracks: int = DEFAULT_MIN_TRACKS,
                     timezone: str = "UTC") -> DriversResult:
    """`hourly`: `source.hourly_sentiment` rows (per site and hour); `business`: parsed rows;
    `timezone`: the sites' (their weekly rhythm is in local hours)."""
    rated = hourly[hourly["tracks"] >= min_tracks].copy()
    rated["net"] = (rated["positive"] - rated["negative"]) / rated["tracks"]
    events = business.assign(hour_ms=business["time_ms"] // HOUR_MS * HOUR_MS)
    values = events.pivot_table(index=["site_id", "hour_ms"], columns="kind", values="value", aggfunc="mean")
    kinds = sorted(str(k) for k in values.columns)
    keys = pd.MultiIndex.from_frame(rated[["site_id", "hour_ms"]])
    unmatched = int(len(events) - events.set_index(["site_id", "hour_ms"]).index.isin(keys).sum())
    joined = values.reindex(keys).fillna(0.0).reset_index(drop=True) if kinds else pd.DataFrame(index=range(len(rated)))
    # One fixed effect per (site, hour of week): each site's own weekly rhythm, so the estimate compares
    # the same hour of the week at the same site with and without the event.
    how = hour_of_week(rated["hour_ms"].to_numpy(), timezone)
    cells = pd.Series([f"{s}|{h}" for s, h in zip(rated["site_id"].astype(str), how, strict=True)])
    present = [k for k in kinds if joined[k].abs().gt(0).any() and joined[k].nunique() > 1]
    drivers: list[Driver] = []
    if present and len(rated) > len(present) + cells.nunique():
        effect, se = within_wls_hc3(rated["net"].to_numpy(dtype=float), joined[present].to_numpy(dtype=float),
                                    rated["tracks"].to_numpy(dtype=float), cells.to_numpy())
        for i, kind in enumerate(present):
            z = effect[i] / se[i] if se[i] > 0 else math.inf
            drivers.append(Driver(kind, float(effect[i]), float(effect[i] - Z_975 * se[i]),
                                  float(effect[i] + Z_975 * se[i]), math.erfc(abs(z) / math.sqrt(2)),
                                  int(joined[kind].ne(0).sum())))
    for kind in kinds:
        if kind not in present or not drivers:
            drivers.append(Driver(kind, None, None, None, None, int(joined[kind].ne(0).sum()) if kind in joined else 0,
                                  "not enough rated hours with and without it to estimate"))
    drivers.sort(key=lambda d: d.kind)
    return DriversResult(drivers, len(rated), sorted(rated["site_id"].astype(str).unique()), unmatched)


def drivers_frame(result: DriversResult) -> pd.DataFrame:
    return pd.DataFrame([{"kind": d.kind, "effect_on_net_score": d.effect, "ci95_low": d.low, "ci95_high": d.high,
                          "p_value": d.p_value, "hours_with": d.hours_with, "note": d.note}
                         for d in result.drivers])


def p_text(p_value: float) -> str:
    """A p-value as read: three decimals, and "<0.001" where those would round to a certain 0.000."""
    return "<0.001" if p_value < 0.0005 else f"{p_value:.3f}"
