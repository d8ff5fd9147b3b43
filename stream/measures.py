"""Sentiment measures of a finished window, and the sentiment_window event that carries them.

Per window over its distinct tracks (n), each track voting once (see ``aggregate``):

* ``shares``: fraction of tracks whose vote's top class is each expression.
* ``mean_valence`` with a 95% interval: mean of the per-track valences ± t(0.975, n-1)·s/√n
  (Student t, so small windows get honest, wider intervals), clipped to [-1, 1].
* ``net_score`` = positive share − negative share = mean of per-track scores in {+1, 0, −1}.
  95% interval: adjusted Wald for a difference of two multinomial proportions (one pseudo-track
  added to each of positive and negative, Agresti–Caffo style), so that all-positive or tiny
  windows still get a non-degenerate interval; clipped to [-1, 1] and widened to contain the
  point estimate.
* Fewer than ``min_tracks`` tracks: ``insufficient_data`` is true and every measure is null.
"""

from __future__ import annotations

import math

from schemas.expressions import EXPRESSIONS
from schemas.types import ExpressionShares, Interval, SentimentWindow
from stream.aggregate import VALENCE_SCALE, WindowAggregate
from stream.ids import stable_event_id

Z_975 = 1.959963984540054
# t quantile 0.975 for 1..30 degrees of freedom; beyond, a Cornish-Fisher expansion around z.
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
          2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
          2.052, 2.048, 2.045, 2.042)
DIGITS = 6


def t_975(df: int) -> float:
    if df < 1:
        raise ValueError("need at least one degree of freedom")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z = Z_975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)


_SHARES: dict[tuple[int, int], float] = {}  # (count, tracks) -> the share, rounded: the same few repeat


def _share(count: int, tracks: int) -> float:
    """``round(count / tracks, DIGITS)``, remembered (a rounding to digits costs a decimal conversion)."""
    key = (count, tracks)
    share = _SHARES.get(key)
    if share is None:
        if len(_SHARES) >= 100_000:
            _SHARES.clear()
        share = _SHARES[key] = round(count / tracks, DIGITS)
    return share


_SHARE_ROWS: dict[tuple[int, tuple[int, ...]], tuple[float, ...]] = {}  # (tracks, class counts) -> the shares


def _shares(tracks: int, counts: tuple[int, ...]) -> tuple[float, ...]:
    """Each class's share of ``tracks``, rounded (``_share``), the row remembered: rows repeat too."""
    key = (tracks, counts)
    row = _SHARE_ROWS.get(key)
    if row is None:
        if len(_SHARE_ROWS) >= 100_000:
            _SHARE_ROWS.clear()
        row = _SHARE_ROWS[key] = tuple(_share(count, tracks) for count in counts)
    return row


def _clip(value: float) -> float:
    return round(max(-1.0, min(1.0, value)), DIGITS)


def _interval(low: float, high: float, point: float) -> Interval:
    return {"low": _clip(min(low, point)), "high": _clip(max(high, point))}


_VALENCES: dict[tuple[int, int, int], tuple[float, float, float]] = {}  # (n, sum, squares) -> mean, low, high


def valence_interval(agg: WindowAggregate) -> tuple[float, Interval]:
    """A function of three integers, which repeat from window to window (a camera's few tracks vote
    from seven valences): each worked out once."""
    key = (agg.tracks, agg.valence_sum, agg.valence_sumsq)
    known = _VALENCES.get(key)
    if known is None:
        mean, interval = _valence_interval(agg)
        if len(_VALENCES) >= 100_000:
            _VALENCES.clear()
        known = _VALENCES[key] = (mean, interval["low"], interval["high"])
    return known[0], {"low": known[1], "high": known[2]}


def _valence_interval(agg: WindowAggregate) -> tuple[float, Interval]:
    n = agg.tracks
    mean = agg.valence_sum / n / VALENCE_SCALE
    if n < 2:
        return _clip(mean), _interval(-1.0, 1.0, mean)  # one track says nothing about spread
    # Exact integer variance numerator, then one division.
    variance = (n * agg.valence_sumsq - agg.valence_sum * agg.valence_sum) / (n * (n - 1)) / VALENCE_SCALE**2
    half = t_975(n - 1) * math.sqrt(max(variance, 0.0) / n)
    return _clip(mean), _interval(mean - half, mean + half, mean)


_NETS: dict[tuple[int, int, int], tuple[float, float, float]] = {}  # (n, positive, negative) -> net, low, high


def net_score_interval(agg: WindowAggregate) -> tuple[float, Interval]:
    """A function of three small counts, which repeat from window to window: each worked out once."""
    key = (agg.tracks, agg.positive, agg.negative)
    known = _NETS.get(key)
    if known is None:
        n, positive, negative = key
        net = (positive - negative) / n
        p, q = (positive + 1) / (n + 2), (negative + 1) / (n + 2)
        centre = p - q
        half = Z_975 * math.sqrt(max(p + q - centre * centre, 0.0) / (n + 2))
        interval = _interval(centre - half, centre + half, net)
        if len(_NETS) >= 100_000:
            _NETS.clear()
        known = _NETS[key] = (_clip(net), interval["low"], interval["high"])
    return known[0], {"low": known[1], "high": known[2]}


def window_event(site_id: str, camera_id: str | None, window_end_ms: int, window_minutes: int,
                 agg: WindowAggregate, min_tracks: int) -> SentimentWindow:
    """The sentiment_window event; its id is derived from key, end and length (a replay dedups)."""
    start = window_end_ms - window_minutes * 60_000
    insufficient = agg.tracks < min_tracks or agg.tracks == 0
    shares: ExpressionShares | None = None
    mean = net = None
    valence_ci = net_ci = None
    if not insufficient:
        n = agg.tracks
        shares = dict(zip(EXPRESSIONS, _shares(n, agg.class_counts), strict=True))  # type: ignore[assignment]
        mean, valence_ci = valence_interval(agg)
        net, net_ci = net_score_interval(agg)
    return {
        "schema": "sentiment_window", "schema_version": "1.0",
        "event_id": stable_event_id(window_end_ms, "sentiment_window", site_id, camera_id or "",
                                    window_end_ms, window_minutes),
        "site_id": site_id, "event_time_ms": window_end_ms, "camera_id": camera_id,
        "window_start_ms": start, "window_end_ms": window_end_ms, "window_minutes": window_minutes,
        "tracks": agg.tracks, "faces": agg.faces, "low_quality_faces": agg.low_quality,
        "insufficient_data": insufficient, "shares": shares, "mean_valence": mean,
        "valence_ci": valence_ci, "net_score": net, "net_score_ci": net_ci,
    }
