"""Next week's expected net score and visits per site and hour, with 80% and 95% intervals.

The model (why: docs/adr/analytics-0001-forecast.md): a regression with seasonal dummies on the
hours a site is open: day of week + hour of day, the hour-of-day profile allowed to differ on
weekends. Visits: OLS on √visits (variance-stabilising for counts). Net score: weighted least squares on
the hourly net score, the weights from a variance model a + b/customers fitted to the residuals
(an hour of 40 customers says more than one of 6, but not 7 times more: part of an hour's
deviation is the day, not the sample). A prediction interval for a new hour adds that variance,
at the hour's expected customers, to the uncertainty of the fitted mean.

Closed hours are not zero sentiment: an hour-of-week is open when it had visitors in at least half
of the history's weeks; closed hours get no net score at all and zero visits. Hours without
customers carry no net score (no data, not 0).

The intervals' widths are calibrated out of sample (split-conformal, `intervals.py`): a half-width is
the quantile of the standardised errors the same model made in earlier rolling-origin weeks, not a
t-quantile of its own variance, which is too narrow out of sample (a bad evening, a silent camera).

Always reported beside: a rolling-origin backtest (the last ``backtest_folds`` weeks, each forecast
from the data before it, its intervals calibrated on the weeks before it only) and the
seasonal-naive baseline (same hour last week) on the same hours.
Anomalous history hours (|standardised residual| >= ``anomaly_z``, with a robust scale) are flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from batch.analytics.intervals import LEVELS, NO_CALIBRATION, Calibration, calibrate
from schemas.privacy import DEFAULT_MIN_TRACKS

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_HOURS = 168


@dataclass(frozen=True)
class ForecastConfig:
    horizon_days: int = 7
    min_history_days: int = 21
    backtest_folds: int = 3
    # Earlier weekly origins whose out-of-sample errors only calibrate the intervals of later ones.
    calibration_folds: int = 3
    min_tracks: int = DEFAULT_MIN_TRACKS
    anomaly_z: float = 3.0
    timezone: str = "UTC"  # the site's: its week repeats in local hours, across clock changes


@dataclass
class Backtest:
    folds: int = 0
    hours: int = 0
    net_mae: float = float("nan")
    naive_net_mae: float = float("nan")
    visits_mae: float = float("nan")
    naive_visits_mae: float = float("nan")
    coverage80: float = float("nan")  # net score, on the `hours` above
    coverage95: float = float("nan")
    visits_hours: int = 0  # open hours of the scored weeks: visits are scored on all of them
    visits_coverage80: float = float("nan")
    visits_coverage95: float = float("nan")
    # Standardised errors behind the forecast's intervals (net score hours): 0 means t-quantiles.
    calibration_hours: int = 0


@dataclass
class SiteForecast:
    site: str
    status: str  # "ok", or why there is no forecast
    history_days: int
    forecast: pd.DataFrame = field(default_factory=pd.DataFrame)
    backtest: Backtest = field(default_factory=Backtest)
    anomalies: pd.DataFrame = field(default_factory=pd.DataFrame)


def hour_of_week(hour_ms: np.ndarray | pd.Series, timezone: str = "UTC") -> np.ndarray:
    """0 = Monday 00:00 ... 167 = Sunday 23:00, in `timezone`'s local time (an IANA name)."""
    ms = np.asarray(hour_ms, dtype=np.int64)
    if timezone != "UTC":
        local = pd.DatetimeIndex(pd.to_datetime(ms, unit="ms", utc=True)).tz_convert(timezone)
        return np.asarray(local.day_of_week * 24 + local.hour, dtype=np.int64)
    hours = ms // HOUR_MS  # 1970-01-01 was a Thursday
    return np.asarray(((hours // 24 + 3) % 7) * 24 + hours % 24)


def history_end_ms(latest_event_ms: int, now_ms: int) -> int:
    """Where a forecast's history ends: after the latest event's hour if that hour is over, else at its start.

    An hour still filling (the lake is compacted hourly, so its newest hour is usually the current
    one) would read as a quiet, half-empty hour: it would drag the fit down and be flagged as an
    anomaly. Ending at the next midnight instead, as before, also counted the rest of the day as
    open hours with nobody in them.
    """
    start = latest_event_ms // HOUR_MS * HOUR_MS
    return start + HOUR_MS if start + HOUR_MS <= now_ms else start


def hourly_grid(site_hours: pd.DataFrame, start_ms: int, end_ms: int, timezone: str = "UTC") -> pd.DataFrame:
    """Every hour in [start, end): visits and tracks (0 when nobody came), net score (NaN then)."""
    index = pd.Index(np.arange(start_ms, end_ms, HOUR_MS, dtype=np.int64), name="hour_ms")
    grid = site_hours.set_index("hour_ms")[["visits", "tracks", "positive", "negative"]].reindex(index, fill_value=0)
    grid = grid.astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        grid["net"] = np.where(grid["tracks"] > 0, (grid["positive"] - grid["negative"]) / grid["tracks"], np.nan)
    grid["how"] = hour_of_week(grid.index.to_numpy(), timezone)
    grid.attrs["timezone"] = timezone
    return grid


def open_hours_of_week(grid: pd.DataFrame) -> set[int]:
    weeks = grid.assign(busy=grid["visits"] > 0).groupby("how")["busy"].mean()
    return {int(h) for h, share in weeks.items() if share >= 0.5}


def _design(how: np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
    dow, hod = how // 24, how % 24
    part = np.where(dow >= 5, "we", "wd")
    frame = pd.DataFrame({"dow": [f"d{d}" for d in dow], "hod": [f"h{h}{p}" for h, p in zip(hod, part, strict=True)]})
    dummies = pd.get_dummies(frame, columns=["dow", "hod"], dtype=float)
    if columns is None:
        # One reference level per group keeps the design full rank: a day, a weekday hour, a weekend hour.
        hods = sorted(c for c in dummies.columns if c.startswith("hod_"))
        reference = [c for c in dummies.columns if c.startswith("dow_")][:1]
        reference += [next(c for c in hods if c.endswith(p)) for p in ("wd", "we") if any(c.endswith(p) for c in hods)]
        dummies = dummies.drop(columns=reference)
    else:
        dummies = dummies.reindex(columns=[c for c in columns if c != "const"], fill_value=0.0)
    dummies.insert(0, "const", 1.0)
    return dummies


@dataclass
class _Fit:
    open_how: set[int]
    columns: list[str]
    visits: sm.regression.linear_model.RegressionResults
    net: sm.regression.linear_model.RegressionResults
    usable_share: float
    noise: tuple[float, float]  # an hour's net score variance: noise[0] + noise[1] / customers
    timezone: str = "UTC"


def _fit(grid: pd.DataFrame, timezone: str = "UTC") -> _Fit:
    open_how = open_hours_of_week(grid)
    train = grid[grid["how"].isin(open_how)]
    design = _design(train["how"].to_numpy())
    visits = sm.OLS(np.sqrt(train["visits"].to_numpy(dtype=float)), design).fit()
    rated = train["tracks"] > 0
    y, x = train.loc[rated, "net"].to_numpy(), design[rated.to_numpy()]
    tracks = train.loc[rated, "tracks"].to_numpy(dtype=float)
    noise = _noise(y - sm.WLS(y, x, weights=tracks).fit().fittedvalues, tracks)
    # Feasible GLS: an hour's variance is sampling noise (~1/customers) plus what the seasonal terms
    # miss (promotions, weather: a constant), so busy hours are not trusted beyond what they know.
    net = sm.WLS(y, x, weights=1.0 / (noise[0] + noise[1] / tracks)).fit()
    usable = float(train["tracks"].sum() / max(1, train["visits"].sum()))
    return _Fit(open_how, list(design.columns), visits, net, usable, noise, timezone)


def _noise(residuals: np.ndarray, tracks: np.ndarray) -> tuple[float, float]:
    """Method of moments: squared residuals regressed on [1, 1/customers], both parts kept >= 0."""
    fit = sm.OLS(residuals**2, np.column_stack([np.ones_like(tracks), 1.0 / tracks])).fit()
    constant, per_customer = (float(v) for v in fit.params)
    if per_customer <= 0:
        return max(float(np.mean(residuals**2)), 1e-6), 0.0
    return max(constant, 0.0), per_customer


def _predict(fit: _Fit, hours: np.ndarray) -> pd.DataFrame:
    """Means and predictive sds, unclipped (`root_*` on the √visits scale), before any interval."""
    how = hour_of_week(hours, fit.timezone)
    out = pd.DataFrame({"hour_ms": hours, "open": np.isin(how, list(fit.open_how))})
    design = _design(how, fit.columns)
    root = np.asarray(fit.visits.predict(design))
    scale = float(fit.visits.scale)
    out["visits"] = np.where(out["open"], np.maximum(root, 0) ** 2 + scale, 0.0)
    out["root_mean"] = root
    out["root_sd"] = np.sqrt(fit.visits.get_prediction(design).se_mean ** 2 + scale)
    net_mean = np.asarray(fit.net.predict(design))
    tracks = np.maximum(out["visits"].to_numpy() * fit.usable_share, 1.0)
    noise = (fit.noise[0] + fit.noise[1] / tracks) * float(fit.net.scale)
    out["net_mean"] = net_mean
    out["net_sd"] = np.sqrt(fit.net.get_prediction(design).se_mean ** 2 + noise)
    out["net"] = np.where(out["open"], np.clip(net_mean, -1, 1), np.nan)
    return out


def _with_intervals(predicted: pd.DataFrame, fit: _Fit, calibration: Calibration) -> pd.DataFrame:
    """80% and 95% intervals: mean ± q·sd, q the calibrated quantile of earlier weeks' |z|, or the
    t-quantile where too few earlier errors were seen."""
    out = predicted.drop(columns=["root_mean", "root_sd", "net_mean", "net_sd"])
    is_open = predicted["open"].to_numpy()
    root, root_sd = predicted["root_mean"].to_numpy(), predicted["root_sd"].to_numpy()
    net, net_sd = predicted["net_mean"].to_numpy(), predicted["net_sd"].to_numpy()
    for level in LEVELS:
        t = stats.t.ppf(0.5 + level / 200, [fit.visits.df_resid, fit.net.df_resid])
        by_visits, by_net = calibration.multiplier("visits", level), calibration.multiplier("net", level)
        q_visits = float(t[0]) if by_visits is None else by_visits
        q_net = float(t[1]) if by_net is None else by_net
        out[f"visits_lo{level}"] = np.where(is_open, np.maximum(root - q_visits * root_sd, 0) ** 2, 0.0)
        out[f"visits_hi{level}"] = np.where(is_open, np.maximum(root + q_visits * root_sd, 0) ** 2, 0.0)
        out[f"net_lo{level}"] = np.where(is_open, np.clip(net - q_net * net_sd, -1, 1), np.nan)
        out[f"net_hi{level}"] = np.where(is_open, np.clip(net + q_net * net_sd, -1, 1), np.nan)
    return out


def _few_customers_unsaid(forecast: pd.DataFrame, fit: _Fit, min_tracks: int) -> pd.DataFrame:
    """No net score where fewer than ``min_tracks`` customers are expected: an hour of the week that sees one
    customer a week is fitted to that customer's mood (a forecast of +1.00, narrow bands) and would give it
    back; its visits stay."""
    few = forecast["visits"].to_numpy() * fit.usable_share < min_tracks
    net = [c for c in forecast.columns if c == "net" or c.startswith(("net_lo", "net_hi"))]
    forecast.loc[few, net] = np.nan
    return forecast


def _fold_errors(grid: pd.DataFrame, origin: int) -> pd.DataFrame:
    """One rolling origin: the week from `origin` forecast from the data before it, with the
    standardised errors z = (actual - mean) / predicted sd (net score; √visits)."""
    train = grid[grid.index < origin]
    test = grid[(grid.index >= origin) & (grid.index < origin + 7 * DAY_MS)]
    fit = _fit(train, grid.attrs.get("timezone", "UTC"))
    predicted = _predict(fit, test.index.to_numpy())
    naive = grid.reindex(test.index - WEEK_HOURS * HOUR_MS)
    root = np.sqrt(test["visits"].to_numpy(dtype=float))
    return pd.DataFrame({
        "open": predicted["open"].to_numpy(), "visits": test["visits"].to_numpy(),
        "tracks": test["tracks"].to_numpy(), "net": test["net"].to_numpy(),
        "p_visits": predicted["visits"].to_numpy(), "p_net": predicted["net"].to_numpy(),
        "n_visits": naive["visits"].to_numpy(), "n_net": naive["net"].to_numpy(),
        "n_tracks": naive["tracks"].to_numpy(),
        "z_net": (test["net"].to_numpy() - predicted["net_mean"].to_numpy()) / predicted["net_sd"].to_numpy(),
        "z_visits": (root - predicted["root_mean"].to_numpy()) / predicted["root_sd"].to_numpy(),
        "df_net": fit.net.df_resid, "df_visits": fit.visits.df_resid})


def _calibration(folds: list[pd.DataFrame], config: ForecastConfig) -> Calibration:
    """From these folds' errors: net score on open hours with enough customers, visits on open hours."""
    if not folds:
        return NO_CALIBRATION
    frame = pd.concat(folds)
    rated = frame["open"] & (frame["tracks"] >= config.min_tracks)
    return calibrate({"net": frame.loc[rated, "z_net"].to_numpy(),
                      "visits": frame.loc[frame["open"], "z_visits"].to_numpy()})


def _covered(z: pd.Series, df: pd.Series, calibration: Calibration, measure: str, level: int) -> float:
    q = calibration.multiplier(measure, level)
    limit = np.full(len(z), q) if q is not None else stats.t.ppf(0.5 + level / 200, df.to_numpy())
    return float((np.abs(z.to_numpy()) <= limit).sum())


def _backtest(grid: pd.DataFrame, config: ForecastConfig) -> tuple[Backtest, Calibration]:
    """The last `backtest_folds` weeks are scored; before them up to `calibration_folds` more weeks
    only feed calibration. A week's intervals are calibrated on the weeks before it alone, so the
    coverage reported is out of sample, as the forecast's will be (calibrated on every week here)."""
    end = int(grid.index[-1]) + HOUR_MS
    start = int(grid.index[0])
    total = config.backtest_folds + config.calibration_folds
    origins = [end - k * 7 * DAY_MS for k in range(total, 0, -1) if end - k * 7 * DAY_MS - start >= 14 * DAY_MS]
    folds = [_fold_errors(grid, origin) for origin in origins]
    if not folds:
        return Backtest(), NO_CALIBRATION
    scored_from = max(0, len(folds) - config.backtest_folds)
    hits = {key: 0.0 for key in ("net80", "net95", "visits80", "visits95")}
    for index in range(scored_from, len(folds)):
        fold, calibration = folds[index], _calibration(folds[:index], config)
        rated = fold[fold["open"] & (fold["tracks"] >= config.min_tracks) & (fold["n_tracks"] >= config.min_tracks)]
        opened = fold[fold["open"]]
        for level in LEVELS:
            hits[f"net{level}"] += _covered(rated["z_net"], rated["df_net"], calibration, "net", level)
            hits[f"visits{level}"] += _covered(opened["z_visits"], opened["df_visits"], calibration, "visits", level)
    frame = pd.concat(folds[scored_from:])
    visits = frame[frame["open"]]
    # Same hours for both: open, enough customers now and a week before.
    rated = frame[frame["open"] & (frame["tracks"] >= config.min_tracks) & (frame["n_tracks"] >= config.min_tracks)]
    final = _calibration(folds, config)
    share = {key: value / max(1, len(rated) if key.startswith("net") else len(visits)) for key, value in hits.items()}
    return Backtest(
        folds=len(folds) - scored_from, hours=len(rated),
        net_mae=float((rated["net"] - rated["p_net"]).abs().mean()),
        naive_net_mae=float((rated["net"] - rated["n_net"]).abs().mean()),
        visits_mae=float((visits["visits"] - visits["p_visits"]).abs().mean()),
        naive_visits_mae=float((visits["visits"] - visits["n_visits"]).abs().mean()),
        coverage80=share["net80"], coverage95=share["net95"], visits_hours=len(visits),
        visits_coverage80=share["visits80"], visits_coverage95=share["visits95"],
        calibration_hours=final.errors.get("net", 0) if final.multiplier("net", 95) is not None else 0), final


def _robust_z(residuals: np.ndarray) -> np.ndarray:
    scale = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals)))) if len(residuals) else 0.0
    return residuals / (scale or 1.0)


def _anomalies(grid: pd.DataFrame, fit: _Fit, config: ForecastConfig) -> pd.DataFrame:
    """Open hours far from what their hour of the week predicts: the net score (hours with enough
    customers; residual over the hour's modelled spread) and the visits (a silent camera, a rush)."""
    opened = grid[grid["how"].isin(fit.open_how)]
    rated = opened[opened["tracks"] >= config.min_tracks]
    frames = []
    if len(rated):
        expected = fit.net.predict(_design(rated["how"].to_numpy(), fit.columns))
        spread = np.sqrt(fit.noise[0] + fit.noise[1] / rated["tracks"].to_numpy(dtype=float))
        z = _robust_z((rated["net"].to_numpy() - expected) / spread)
        flagged = np.abs(z) >= config.anomaly_z
        frames.append(pd.DataFrame({"hour_ms": rated.index.to_numpy()[flagged], "measure": "net_score",
                                    "actual": rated["net"].to_numpy()[flagged], "expected": expected[flagged],
                                    "z": z[flagged]}))
    if len(opened):
        root = fit.visits.predict(_design(opened["how"].to_numpy(), fit.columns))
        z = _robust_z(np.sqrt(opened["visits"].to_numpy(dtype=float)) - root)
        flagged = np.abs(z) >= config.anomaly_z
        frames.append(pd.DataFrame({"hour_ms": opened.index.to_numpy()[flagged], "measure": "visits",
                                    "actual": opened["visits"].to_numpy(dtype=float)[flagged],
                                    "expected": np.maximum(root[flagged], 0) ** 2, "z": z[flagged]}))
    columns = ["hour_ms", "measure", "actual", "expected", "z"]
    found = [f for f in frames if len(f)]
    return pd.concat(found, ignore_index=True).sort_values("hour_ms")[columns] if found else pd.DataFrame(
        columns=columns)


def forecast_site(site: str, site_hours: pd.DataFrame, end_ms: int,
                  config: ForecastConfig = ForecastConfig()) -> SiteForecast:
    """`site_hours`: the site's rows of `source.hourly_sentiment`; history ends at `end_ms` (an hour boundary)."""
    days = int(pd.Series(site_hours["hour_ms"] // DAY_MS).nunique()) if len(site_hours) else 0
    if days < config.min_history_days:
        return SiteForecast(site, f"too little history: {days} days with visitors, "
                                  f"a forecast needs {config.min_history_days}", days)
    start_ms = int(site_hours["hour_ms"].min()) // DAY_MS * DAY_MS
    grid = hourly_grid(site_hours, start_ms, end_ms, config.timezone)
    fit = _fit(grid, config.timezone)
    future = np.arange(end_ms, end_ms + config.horizon_days * DAY_MS, HOUR_MS, dtype=np.int64)
    backtest, calibration = _backtest(grid, config)
    forecast = _few_customers_unsaid(_with_intervals(_predict(fit, future), fit, calibration), fit, config.min_tracks)
    forecast.insert(0, "site_id", site)
    return SiteForecast(site, "ok", days, forecast, backtest, _anomalies(grid, fit, config))


def forecast_sites(hourly: pd.DataFrame, end_ms: int, config: ForecastConfig = ForecastConfig(),
                   zones: Mapping[str, str] | None = None) -> list[SiteForecast]:
    """Each site forecast in its own zone from `zones` (IANA names by site), else in `config.timezone`."""
    zones = zones or {}
    return [forecast_site(str(site), rows.drop(columns="site_id"), end_ms,
                          replace(config, timezone=zones.get(str(site), config.timezone)))
            for site, rows in hourly.groupby("site_id", sort=True)]
