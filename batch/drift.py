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

Baselines: the model's own output on FER2013's public test (``drift_baseline`` in its card), or a
site's own reference period (a better yardstick once a site has a few normal weeks, since a
restaurant's customers are not FER2013's mix).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.expressions import EXPRESSIONS

EPSILON = 1e-4
STABLE, SHIFTED = 0.1, 0.25


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


# One text for Athena (Trino) and DuckDB: standard SQL only.
DRIFT_SQL = """
SELECT site_id, camera_id, CAST(CAST(event_time_ms AS DATE) AS VARCHAR) AS day, top_class,
       COALESCE(quality.usable, TRUE) AS usable, COUNT(*) AS faces,
       SUM(GREATEST(probabilities.angry, probabilities.disgust, probabilities.fear, probabilities.happy,
                    probabilities.sad, probabilities.surprise, probabilities.neutral)) AS confidence_sum
FROM face_expression
WHERE kind = 'track_update' AND event_time_ms >= ? AND event_time_ms < ? {site_filter}
GROUP BY 1, 2, 3, 4, 5
"""


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
                                psi(baseline.shares, shares) if usable_faces >= min_faces else None))
    return result


def reference_baseline(days: Sequence[CameraDay], label: str) -> Baseline:
    """A site's own reference period (e.g. its first normal weeks) as the baseline."""
    faces = sum(d.faces for d in days)
    if faces == 0:
        raise ValueError(f"reference period {label}: no usable faces")
    shares = tuple(sum(d.shares[i] * d.faces for d in days) / faces for i in range(len(EXPRESSIONS)))
    confidence = sum(d.mean_confidence * d.faces for d in days) / faces
    return Baseline(shares, confidence, f"reference {label}")


def query(con: Any, since_ms: int, until_ms: int, site: str | None) -> list[tuple[Any, ...]]:
    """Runs DRIFT_SQL on a DuckDB connection holding the lake's ``face_expression`` table."""
    import datetime as dt

    def ts(ms: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    sql = DRIFT_SQL.format(site_filter="AND site_id = ?" if site else "")
    params: list[Any] = [ts(since_ms), ts(until_ms)] + ([site] if site else [])
    return [tuple(row) for row in con.execute(sql, params).fetchall()]
