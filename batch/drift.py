"""Is the model still seeing what it was made for? Drift per camera and day, from the lake.

For each camera and day: faces seen, the share of each top class among usable faces, the mean
top-class probability ("confidence") and the share of faces the quality gate refused. The drift
measure is the population stability index (PSI) of the top-class shares against a baseline:

    PSI = sum over classes of (actual - expected) * ln(actual / expected)

PSI is symmetric in spirit, works on the categorical output every event already carries, needs no
raw pixels, and has thresholds operators know (< 0.1 stable, 0.1-0.25 some change, > 0.25 a real
shift). Empty classes are floored at ``EPSILON`` so one missing class does not make it infinite.
Camera-days with fewer than ``min_faces`` usable faces say "too few faces" instead of a number:
PSI is noisy on small samples (its expected value grows like (classes - 1) / n).

Baselines. By default each camera-day is compared with the same camera's own previous
``own_days`` days (``judge``): a restaurant's customers are not FER2013's mix, and against FER2013
nearly every real camera-day reads as drift (on the demo's synthetic history, 61 of 81 camera-days
with enough faces; 2 of 69 against their own past), so a drift alarm built on it would fire every
day and be ignored. What operations need to hear is that a camera's picture changed (moved,
dimmed, a new model version): a change against its own recent past. A camera with fewer than
``OWN_MIN_FACES_FACTOR`` x ``min_faces`` usable faces in those days (a new camera, a new site) is
compared with the model's own output on FER2013's public test (``drift_baseline`` in its card)
meanwhile; each row says which it used. A site's chosen reference period can replace both.

Days are each site's own local days (its zone from the `sites` relation, UTC without a row), and a
period over several sites is given as each site's own whole local days (``LocalDays``): "the last
7 days" of a café in Tokyo and one in Los Angeles are the same dates, at different instants.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from schemas.expressions import EXPRESSIONS

EPSILON = 1e-4
STABLE, SHIFTED = 0.1, 0.25
OWN_DAYS = 14  # a camera's own history a day is compared with
OWN_MIN_FACES_FACTOR = 5  # that history must hold this many times min_faces usable faces (its own noise stays small)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Baseline:
    shares: tuple[float, ...]  # in EXPRESSIONS order
    mean_confidence: float
    source: str

    @classmethod
    def from_card_file(cls, path: Path) -> Baseline:
        """The baseline in a model card JSON file (the `.json` beside the `.onnx`)."""
        if not path.is_file():
            raise FileNotFoundError(f"no model card at {path}")
        try:
            card = json.loads(path.read_text())
        except ValueError as error:
            raise ValueError(f"{path}: not JSON ({error})") from None
        return cls.from_card(card)

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> Baseline:
        try:
            data = card["drift_baseline"]
            shares = tuple(float(data["top_class_share"][name]) for name in EXPRESSIONS)
            return cls(shares, float(data["mean_confidence"]), f"model card ({data.get('split', '?')})")
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"model card has no usable drift_baseline ({error!r}); run "
                             "`python -m training.drift_baseline`") from None


@dataclass(frozen=True)
class CameraDay:
    site_id: str
    camera_id: str
    day: str
    faces: int  # usable
    low_quality_share: float
    shares: tuple[float, ...]
    mean_confidence: float
    psi: float | None  # None: too few faces
    baseline: str = ""  # what the PSI was measured against (Baseline.source)

    @property
    def verdict(self) -> str:
        if self.psi is None:
            return "too few faces"
        return "stable" if self.psi < STABLE else "some change" if self.psi < SHIFTED else "DRIFT"


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    if len(expected) != len(actual):
        raise ValueError("psi: distributions of different lengths")
    total = 0.0
    for e_raw, a_raw in zip(expected, actual, strict=True):
        e, a = max(e_raw, EPSILON), max(a_raw, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


# Trino's text (Athena); DuckDB gets it transpiled (`at_timezone` there is `AT TIME ZONE`). A day is the
# site's local day (its zone from the `sites` table; UTC for a site without a row).
DRIFT_SQL = """
SELECT f.site_id, f.camera_id,
       CAST(CAST(at_timezone(f.event_time_ms, COALESCE(s.timezone, 'UTC')) AS DATE) AS VARCHAR) AS day,
       f.top_class, COALESCE(f.quality.usable, TRUE) AS usable, COUNT(*) AS faces,
       SUM(GREATEST(f.probabilities.angry, f.probabilities.disgust, f.probabilities.fear, f.probabilities.happy,
                    f.probabilities.sad, f.probabilities.surprise, f.probabilities.neutral)) AS confidence_sum
FROM face_expression AS f LEFT JOIN {sites} AS s ON s.site_id = f.site_id
WHERE f.kind = 'track_update' AND f.event_time_ms >= ? AND f.event_time_ms < ? {site_filter}
GROUP BY 1, 2, 3, 4, 5
"""
NO_SITES = "(SELECT CAST(NULL AS VARCHAR) AS site_id, CAST(NULL AS VARCHAR) AS timezone)"


@dataclass(frozen=True)
class LocalDays:
    """One site's period: the local days `first` to `last` (both included) in its zone."""

    site_id: str
    timezone: str
    first: dt.date
    last: dt.date

    def instants(self) -> tuple[int, int]:
        """[start, end) in epoch ms: the local midnight that starts `first`, the one that ends `last`."""
        return day_start_ms(self.first, self.timezone), day_start_ms(self.last + dt.timedelta(days=1), self.timezone)

    def covers(self, day: str) -> bool:
        return self.first.isoformat() <= day <= self.last.isoformat()

    def before(self, days: int) -> LocalDays:
        """The `days` local days before this period (a camera's own history)."""
        return replace(self, first=self.first - dt.timedelta(days=days), last=self.first - dt.timedelta(days=1))

    def describe(self) -> str:
        count = (self.last - self.first).days + 1
        span = self.first.isoformat() if count == 1 else f"{self.first} to {self.last}"
        return f"{span} ({count} local day{'s' if count > 1 else ''}, {self.timezone})"


def day_start_ms(day: dt.date | str, timezone: str) -> int:
    """The instant a local day starts in `timezone` (its first instant where a DST change skips midnight)."""
    date = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=ZoneInfo(timezone)).timestamp() * 1000)


def site_zones(con: Any, sites: Sequence[str]) -> dict[str, str]:
    """The zone each site's drift days are taken in: its row of the `sites` relation DRIFT_SQL joins,
    UTC for a site without one (as DRIFT_SQL's COALESCE)."""
    import duckdb

    try:
        known = {str(s): str(z) for s, z in con.execute("SELECT site_id, timezone FROM sites").fetchall()}
    except duckdb.Error:
        known = {}
    return {site: known.get(site, "UTC") for site in sites}


def latest_faces(con: Any) -> dict[str, int]:
    """Each site's latest face (epoch ms), for the sites that have any."""
    rows = con.execute("SELECT site_id, max(epoch_ms(event_time_ms)) FROM face_expression "
                       "WHERE kind = 'track_update' GROUP BY 1").fetchall()
    return {str(site): int(ms) for site, ms in rows}


def local_day_rows(con: Any, periods: Sequence[LocalDays]) -> list[tuple[Any, ...]]:
    """DRIFT_SQL's rows of each site's own local days: one query over the instants they span, a day more on
    each side, each row kept where its site's period covers its local day. The days are the SQL's alone:
    its engine's zone data can differ from Python's tzdata (DuckDB 2.0.0 and tzdata 2026.6 differ by
    an hour for Vancouver from November 2026), and the margin keeps such an hour in its day."""
    if not periods:
        return []
    by_site: dict[str, list[LocalDays]] = {}
    for p in periods:
        by_site.setdefault(p.site_id, []).append(p)
    spans = [p.instants() for p in periods]
    only = next(iter(by_site)) if len(by_site) == 1 else None
    rows = query(con, min(s for s, _ in spans) - DAY_MS, max(e for _, e in spans) + DAY_MS, only)
    return [r for r in rows if any(p.covers(r[2]) for p in by_site.get(r[0], ()))]


def judge_days(con: Any, periods: Sequence[LocalDays], fallback: Baseline, own_days: int = OWN_DAYS,
               min_faces: int = 100) -> list[CameraDay]:
    """`judge` over each site's own local days: every camera-day of its site's period against the camera's
    own `own_days` local days before it, or `fallback` where that history is too thin (own_days 0: always)."""
    days = camera_days(local_day_rows(con, periods), fallback, min_faces)
    if own_days <= 0:
        return days
    history = camera_days(local_day_rows(con, [p.before(own_days) for p in periods]), fallback, 1)
    return against_own_history(days, history, own_days, min_faces)


def camera_days(rows: Sequence[tuple[Any, ...]], baseline: Baseline, min_faces: int = 100) -> list[CameraDay]:
    """Rows of DRIFT_SQL -> one CameraDay per (site, camera, day), sorted."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for site, camera, day, top, usable, faces, confidence_sum in rows:
        cell = grouped.setdefault((site, camera, day), {"counts": dict.fromkeys(EXPRESSIONS, 0), "bad": 0,
                                                         "confidence": 0.0})
        if usable:
            cell["counts"][top] += int(faces)
            cell["confidence"] += float(confidence_sum)
        else:
            cell["bad"] += int(faces)
    result = []
    for (site, camera, day), cell in sorted(grouped.items()):
        usable_faces = sum(cell["counts"].values())
        shares = tuple(cell["counts"][n] / usable_faces if usable_faces else 0.0 for n in EXPRESSIONS)
        everyone = usable_faces + cell["bad"]
        result.append(CameraDay(site, camera, day, usable_faces, cell["bad"] / everyone if everyone else 0.0, shares,
                                cell["confidence"] / usable_faces if usable_faces else 0.0,
                                psi(baseline.shares, shares) if usable_faces >= min_faces else None,
                                baseline.source))
    return result


def against_own_history(days: Sequence[CameraDay], history: Sequence[CameraDay], own_days: int = OWN_DAYS,
                        min_faces: int = 100) -> list[CameraDay]:
    """`days` (judged against the fallback baseline by `camera_days`) judged again, each against its camera's
    own `history` days in the `own_days` before it (the period's earlier days count too), where those
    hold at least OWN_MIN_FACES_FACTOR x min_faces usable faces; the others keep the fallback."""
    by_camera: dict[tuple[str, str], list[CameraDay]] = {}
    for d in (*history, *days):
        by_camera.setdefault((d.site_id, d.camera_id), []).append(d)
    judged = []
    for d in days:
        day = dt.date.fromisoformat(d.day)
        earliest = (day - dt.timedelta(days=own_days)).isoformat()
        before = [h for h in by_camera[(d.site_id, d.camera_id)] if earliest <= h.day < d.day]
        if d.psi is None or sum(h.faces for h in before) < OWN_MIN_FACES_FACTOR * min_faces:
            judged.append(d)
            continue
        own = replace(reference_baseline(before, ""), source=f"own {own_days} days")
        judged.append(replace(d, psi=psi(own.shares, d.shares), baseline=own.source))
    return judged


def judge(con: Any, since_ms: int, until_ms: int, site: str | None, fallback: Baseline,
          own_days: int = OWN_DAYS, min_faces: int = 100, *, timezone: str) -> list[CameraDay]:
    """`judge_days` over the local dates [since, until) reaches in `timezone` (a day begun is taken whole),
    at every site with faces (or `site`), each in its own zone: a report's week in its zone is the same
    week of dates at every site."""
    zone = ZoneInfo(timezone)
    first = dt.datetime.fromtimestamp(since_ms / 1000, zone).date()
    last = dt.datetime.fromtimestamp((until_ms - 1) / 1000, zone).date()
    sites = [site] if site is not None else sorted(latest_faces(con))
    periods = [LocalDays(s, z, first, last) for s, z in site_zones(con, sites).items()]
    return judge_days(con, periods, fallback, own_days, min_faces)


def reference_baseline(days: Sequence[CameraDay], label: str) -> Baseline:
    """A site's own reference period (e.g. its first normal weeks) as the baseline."""
    faces = sum(d.faces for d in days)
    if faces == 0:
        raise ValueError(f"reference period {label}: no usable faces")
    shares = tuple(sum(d.shares[i] * d.faces for d in days) / faces for i in range(len(EXPRESSIONS)))
    confidence = sum(d.mean_confidence * d.faces for d in days) / faces
    return Baseline(shares, confidence, f"reference {label}")


def query(con: Any, since_ms: int, until_ms: int, site: str | None) -> list[tuple[Any, ...]]:
    """Runs DRIFT_SQL on a DuckDB connection holding the lake's ``face_expression`` table (and its
    ``sites``, for local days; without one every day is a UTC day)."""
    import duckdb

    from batch.sql.views import duckdb_sql

    def ts(ms: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    try:
        con.execute("SELECT site_id, timezone FROM sites LIMIT 0")
        sites = "sites"
    except duckdb.Error:
        sites = NO_SITES
    sql = duckdb_sql(DRIFT_SQL.format(sites=sites, site_filter="AND f.site_id = ?" if site else ""))
    params: list[Any] = [ts(since_ms), ts(until_ms)] + ([site] if site else [])
    return [tuple(row) for row in con.execute(sql, params).fetchall()]
