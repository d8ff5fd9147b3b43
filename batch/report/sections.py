"""The report's longer sections (forecast, drivers, model drift, data quality) and its HTML pieces."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from batch import drift
from batch.analytics import source
from batch.analytics.drivers import CAVEAT, drivers_frame, estimate_drivers, p_text
from batch.analytics.forecast import SiteForecast
from batch.analytics.measures import Estimate
from batch.analytics.source import Period
from batch.report import svg
from batch.report.data import HOUR_MS, iso, with_local_time

if TYPE_CHECKING:
    from batch.report.build import ReportOptions

TOO_FEW = "too few customers"
NOBODY = "no customers"  # nothing to hide: none came
DAY_MS = 24 * HOUR_MS


def estimate_html(value: Estimate | None, signed: bool = True, digits: int = 2) -> str:
    if value is None:
        return f'<span class="few">{TOO_FEW}</span>'
    sign = "+" if signed else ""
    return (f"<b>{value.value:{sign}.{digits}f}</b> <span class='ci'>[{value.low:{sign}.{digits}f}, "
            f"{value.high:{sign}.{digits}f}]</span>")


def table_html(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def forecast_section(results: list[SiteForecast], tables: dict[str, pd.DataFrame], options: ReportOptions,
                     history_end_ms: int) -> str:
    tz = options.timezone
    html, frames, backtests, anomalies = [], [], [], []
    if options.now_ms is not None and options.now_ms - history_end_ms > DAY_MS:
        days = (options.now_ms - history_end_ms) // DAY_MS
        html.append(f"<p class='caveat'><b>This forecast is stale:</b> the history ends "
                    f"{escape(iso(history_end_ms, tz))}, "
                    f"{days} days before this report was built, so the 7 days below are the 7 days after that, "
                    f"not the coming week.</p>")
    for i, result in enumerate(results):
        zone = options.zone(result.site)  # the site's own hours, as its forecast
        if result.status != "ok":
            html.append(f"<p><b>{escape(result.site)}</b>: no forecast — {escape(result.status)}.</p>")
            continue
        f, b = result.forecast, result.backtest
        frames.append(f)
        backtests.append({"site_id": result.site, "folds": b.folds, "hours": b.hours, "net_mae": b.net_mae,
                          "naive_net_mae": b.naive_net_mae, "visits_mae": b.visits_mae,
                          "naive_visits_mae": b.naive_visits_mae, "coverage80": b.coverage80,
                          "coverage95": b.coverage95})
        start, end = int(f["hour_ms"].min()), int(f["hour_ms"].max()) + HOUR_MS
        mid = [int(h) + HOUR_MS // 2 for h in f["hour_ms"]]
        net = [None if pd.isna(v) else float(v) for v in f["net"]]

        def band(lo: str, hi: str, frame: pd.DataFrame = f, times: list[int] = mid
                 ) -> list[tuple[int, float | None, float | None]]:
            return [(t, None if pd.isna(a) else float(a), None if pd.isna(z) else float(z))
                    for t, a, z in zip(times, frame[lo], frame[hi], strict=True)]

        color = svg.PALETTE[i % len(svg.PALETTE)]
        chart = svg.Chart(start, end, -1.0, 1.0, f"{result.site}: expected net score, next 7 days (80% and 95%)",
                          "net score", [svg.Series(result.site, list(zip(mid, net, strict=True)), color,
                                                   band("net_lo80", "net_hi80"), band("net_lo95", "net_hi95"))],
                          timezone=zone)
        top = max(1.0, float(f["visits_hi95"].max()))
        visits = svg.Chart(start, end, 0.0, top, f"{result.site}: expected visits per hour (80% and 95%)", "visits",
                           [svg.Series(result.site, [(t, float(v)) for t, v in zip(mid, f["visits"], strict=True)],
                                       color, band("visits_lo80", "visits_hi80"), band("visits_lo95", "visits_hi95"))],
                           timezone=zone)
        html.append(svg.line_chart(chart) + svg.line_chart(visits))
        html.append(f"<p class='note'>Backtest over {b.folds} rolling weekly origin{'' if b.folds == 1 else 's'} "
                    f"({b.hours} hours with enough customers): net score mean absolute error "
                    f"<b>{b.net_mae:.3f}</b> against <b>{b.naive_net_mae:.3f}</b> for the seasonal-naive forecast "
                    f"(same hour last week); visits "
                    f"{b.visits_mae:.1f} against {b.naive_visits_mae:.1f}. Interval coverage: 80% → "
                    f"{b.coverage80:.0%}, 95% → {b.coverage95:.0%}.</p>")
        anomalies.append(result.anomalies.assign(site_id=result.site))
        if len(result.anomalies):
            number = {"net_score": "{:+.2f}", "visits": "{:.0f}"}
            rows = [[iso(r.hour_ms, zone), escape(str(r.measure)), number[str(r.measure)].format(r.actual),
                     number[str(r.measure)].format(r.expected), f"{r.z:+.1f}"] for r in result.anomalies.itertuples()]
            html.append("<p>Anomalous hours in the history:</p>" +
                        table_html([f"hour ({zone})", "measure", "actual", "expected", "z"], rows))
    tables["forecast"] = (with_local_time(pd.concat(frames), "hour_ms", "hour", options.zone) if frames
                          else pd.DataFrame())
    tables["forecast_backtest"] = pd.DataFrame(backtests)
    tables["forecast_anomalies"] = pd.concat(anomalies) if anomalies else pd.DataFrame()
    return "".join(html) or "<p>No site to forecast.</p>"


def drivers_section(con: duckdb.DuckDBPyConnection, options: ReportOptions, tables: dict[str, pd.DataFrame]) -> str:
    assert options.business is not None
    hourly = source.hourly_sentiment(con, Period(0, options.until_ms, options.site))
    business = options.business
    if options.site is not None:
        business = business[business["site_id"] == options.site]
    result = estimate_drivers(hourly, business, options.min_tracks, options.timezone)
    tables["drivers"] = drivers_frame(result)
    rows = [[escape(d.kind), "—" if d.effect is None else f"{d.effect:+.3f}",
             "" if d.low is None or d.high is None else f"[{d.low:+.3f}, {d.high:+.3f}]",
             "" if d.p_value is None else escape(p_text(d.p_value)), str(d.hours_with), escape(d.note)]
            for d in result.drivers]
    plotted = [(d.kind, d.effect, d.low, d.high) for d in result.drivers
               if d.effect is not None and d.low is not None and d.high is not None]
    chart = svg.forest(plotted, "Effect on the hourly net score, 95% interval") if plotted else ""
    return (chart + table_html(["kind", "effect on net score per unit", "95% interval", "p", "hours with it", ""], rows)
            + f"<p class='caveat'><b>{escape(CAVEAT)}</b> Fixed effects for hour of week and site; "
              f"robust (HC3) standard errors; {result.hours} hours with ≥ {options.min_tracks} customers.</p>")


def drift_section(con: duckdb.DuckDBPyConnection, options: ReportOptions, site: str | None,
                   tables: dict[str, pd.DataFrame]) -> str:
    """Model drift per camera-day (`batch.drift`): is the model still seeing what it was made for?"""
    if options.drift_baseline is None:
        return ""
    days = drift.judge(con, options.since_ms, options.until_ms, site, options.drift_baseline,
                       timezone=options.timezone)
    # rounded: sums of floats differ in their last bits with the order an engine adds them in
    tables["model_drift"] = pd.DataFrame([{"site": d.site_id, "camera": d.camera_id, "day": d.day, "faces": d.faces,
                                           "low_quality_share": round(d.low_quality_share, 4),
                                           "mean_confidence": round(d.mean_confidence, 4),
                                           "psi": None if d.psi is None else round(d.psi, 4), "verdict": d.verdict,
                                           "baseline": d.baseline if d.psi is not None else ""}
                                          for d in days])
    # one line per camera: the day by day detail is the model_drift CSV
    summary: dict[str, list[Any]] = {}
    for d in days:
        summary.setdefault(f"{d.site_id}/{d.camera_id}", []).append(d)
    rows = []
    for camera, camera_days in sorted(summary.items()):
        psis = [d.psi for d in camera_days if d.psi is not None]
        worst = max(camera_days, key=lambda d: -1.0 if d.psi is None else d.psi)
        faces = sum(d.faces for d in camera_days)
        rows.append([escape(camera), str(len(camera_days)), str(faces),
                     str(sum(d.verdict == "DRIFT" for d in camera_days)),
                     "-" if not psis else f"{max(psis):.3f} ({worst.day})",
                     f"{sum(d.mean_confidence * d.faces for d in camera_days) / max(1, faces):.2f}"])
    drifted = sum(d.verdict == "DRIFT" for d in days)
    return (f"<p>Model drift (population stability index of the top-class mix against each camera's own "
            f"previous {drift.OWN_DAYS} days, or {escape(options.drift_baseline.source)} where a camera has less "
            f"history; above 0.25 is drift): <b>{drifted}</b> of {len(days)} camera-days.</p>" +
            table_html(["camera", "days", "usable faces", "days drifted", "highest PSI (day)", "mean confidence"],
                       rows) +
            "<p class='note'>Every camera-day, with its low-quality share and verdict: model_drift.csv.</p>")
