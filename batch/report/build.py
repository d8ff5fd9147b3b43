"""The weekly report: one self-contained HTML file (inline CSS and SVG, no script, no request) + CSVs.

`build_report(con, options)` reads the lake's tables through `batch.analytics.source` and returns
the HTML and every table behind it; `write_report` puts them in a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import duckdb
import pandas as pd

from batch import drift
from batch.analytics import source
from batch.analytics.drivers import CAVEAT, drivers_frame, estimate_drivers
from batch.analytics.forecast import ForecastConfig, SiteForecast, forecast_sites
from batch.analytics.measures import Estimate
from batch.analytics.source import Period
from batch.drift import Baseline
from batch.report import svg
from batch.report.data import (
    HOUR_MS,
    Totals,
    alarm_episodes,
    busiest_hours,
    camera_status,
    heatmap_cells,
    hour_grid,
    iso,
    offline_spans,
    with_net,
)
from batch.report.page import page

TOO_FEW = "too few customers"


@dataclass(frozen=True)
class ReportOptions:
    since_ms: int
    until_ms: int
    site: str | None = None
    min_tracks: int = 5
    business: pd.DataFrame | None = None
    forecast: bool = True
    drift_baseline: Baseline | None = None  # the model card's; None leaves model drift out
    # Where the forecast's history ends (an hour boundary); None: the end of the period. Give it
    # when the period runs past the lake's last finished hour (a report built mid-day).
    forecast_from_ms: int | None = None


@dataclass
class Report:
    html: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _estimate(value: Estimate | None, signed: bool = True, digits: int = 2) -> str:
    if value is None:
        return f'<span class="few">{TOO_FEW}</span>'
    sign = "+" if signed else ""
    return (f"<b>{value.value:{sign}.{digits}f}</b> <span class='ci'>[{value.low:{sign}.{digits}f}, "
            f"{value.high:{sign}.{digits}f}]</span>")


def _pct_change(now: int, before: int) -> str:
    return "n/a (no visits the week before)" if before == 0 else f"{(now - before) / before:+.0%}"


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _series(name: str, frame: pd.DataFrame, hours: list[int], color: str = svg.PALETTE[0]) -> svg.Series:
    """One point per hour; a suppressed, closed or offline hour is a gap (None), never a value."""
    by_hour = frame.set_index("hour_ms")
    points: list[tuple[int, float | None]] = []
    band: list[tuple[int, float | None, float | None]] = []
    for hour in hours:
        middle = hour + HOUR_MS // 2
        if hour in by_hour.index and not bool(by_hour.at[hour, "suppressed"]):
            row = by_hour.loc[hour]
            points.append((middle, float(row["net_score"])))
            band.append((middle, float(row["net_low"]), float(row["net_high"])))
        else:
            points.append((middle, None))
            band.append((middle, None, None))
    return svg.Series(name, points, color, band)


def _headline(now: Totals, before: Totals, options: ReportOptions) -> str:
    m = options.min_tracks
    cards = [
        ("Visits", f"<b>{now.visits}</b>", f"week on week {_pct_change(now.visits, before.visits)} "
                                          f"(before: {before.visits})"),
        ("Customers rated (usable faces)", f"<b>{now.tracks}</b>", f"before: {before.tracks}"),
        ("Net score (positive − negative share), 95% interval", _estimate(now.net(m)),
         "change week on week: " + _estimate(now.change(before, m))),
        ("Mean valence (−1..+1), 95% interval", _estimate(now.valence(m)),
         "before: " + _estimate(before.valence(m))),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{escape(t)}</div><div class="value">{v}</div>'
        f'<div class="sub">{s}</div></div>' for t, v, s in cards) + "</div>"


def _forecast_section(results: list[SiteForecast], tables: dict[str, pd.DataFrame]) -> str:
    html, frames, backtests, anomalies = [], [], [], []
    for i, result in enumerate(results):
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
                                                   band("net_lo80", "net_hi80"), band("net_lo95", "net_hi95"))])
        top = max(1.0, float(f["visits_hi95"].max()))
        visits = svg.Chart(start, end, 0.0, top, f"{result.site}: expected visits per hour (80% and 95%)", "visits",
                           [svg.Series(result.site, [(t, float(v)) for t, v in zip(mid, f["visits"], strict=True)],
                                       color, band("visits_lo80", "visits_hi80"), band("visits_lo95", "visits_hi95"))])
        html.append(svg.line_chart(chart) + svg.line_chart(visits))
        html.append(f"<p class='note'>Backtest over {b.folds} rolling weekly origins ({b.hours} hours with enough "
                    f"customers): net score mean absolute error <b>{b.net_mae:.3f}</b> against "
                    f"<b>{b.naive_net_mae:.3f}</b> for the seasonal-naive forecast (same hour last week); visits "
                    f"{b.visits_mae:.1f} against {b.naive_visits_mae:.1f}. Interval coverage: 80% → "
                    f"{b.coverage80:.0%}, 95% → {b.coverage95:.0%}.</p>")
        anomalies.append(result.anomalies.assign(site_id=result.site))
        if len(result.anomalies):
            number = {"net_score": "{:+.2f}", "visits": "{:.0f}"}
            rows = [[iso(r.hour_ms), escape(str(r.measure)), number[str(r.measure)].format(r.actual),
                     number[str(r.measure)].format(r.expected), f"{r.z:+.1f}"] for r in result.anomalies.itertuples()]
            html.append("<p>Anomalous hours in the history:</p>" +
                        _table(["hour (UTC)", "measure", "actual", "expected", "z"], rows))
    tables["forecast"] = pd.concat(frames) if frames else pd.DataFrame()
    tables["forecast_backtest"] = pd.DataFrame(backtests)
    tables["forecast_anomalies"] = pd.concat(anomalies) if anomalies else pd.DataFrame()
    return "".join(html) or "<p>No site to forecast.</p>"


def _drivers_section(con: duckdb.DuckDBPyConnection, options: ReportOptions, tables: dict[str, pd.DataFrame]) -> str:
    assert options.business is not None
    hourly = source.hourly_sentiment(con, Period(0, options.until_ms, options.site))
    business = options.business
    if options.site is not None:
        business = business[business["site_id"] == options.site]
    result = estimate_drivers(hourly, business, options.min_tracks)
    tables["drivers"] = drivers_frame(result)
    rows = [[escape(d.kind), "—" if d.effect is None else f"{d.effect:+.3f}",
             "" if d.low is None or d.high is None else f"[{d.low:+.3f}, {d.high:+.3f}]",
             "" if d.p_value is None else f"{d.p_value:.3f}", str(d.hours_with), escape(d.note)]
            for d in result.drivers]
    plotted = [(d.kind, d.effect, d.low, d.high) for d in result.drivers
               if d.effect is not None and d.low is not None and d.high is not None]
    chart = svg.forest(plotted, "Effect on the hourly net score, 95% interval") if plotted else ""
    return (chart + _table(["kind", "effect on net score per unit", "95% interval", "p", "hours with it", ""], rows)
            + f"<p class='caveat'><b>{escape(CAVEAT)}</b> Fixed effects for hour of week and site; "
              f"robust (HC3) standard errors; {result.hours} hours with ≥ {options.min_tracks} customers.</p>")


def _drift_section(con: duckdb.DuckDBPyConnection, options: ReportOptions, site: str | None,
                   tables: dict[str, pd.DataFrame]) -> str:
    """Model drift per camera-day (`batch.drift`): is the model still seeing what it was made for?"""
    if options.drift_baseline is None:
        return ""
    days = drift.judge(con, options.since_ms, options.until_ms, site, options.drift_baseline)
    # rounded: sums of floats differ in their last bits with the order an engine adds them in
    tables["model_drift"] = pd.DataFrame([{"site": d.site_id, "camera": d.camera_id, "day": d.day, "faces": d.faces,
                                           "low_quality_share": round(d.low_quality_share, 4),
                                           "mean_confidence": round(d.mean_confidence, 4),
                                           "psi": None if d.psi is None else round(d.psi, 4), "verdict": d.verdict,
                                           "baseline": d.baseline if d.psi is not None else ""}
                                          for d in days])
    rows = [[escape(f"{d.site_id}/{d.camera_id}"), d.day, str(d.faces), f"{d.low_quality_share:.0%}",
             f"{d.mean_confidence:.2f}", "-" if d.psi is None else f"{d.psi:.3f}", d.verdict] for d in days]
    drifted = sum(d.verdict == "DRIFT" for d in days)
    return (f"<p>Model drift (population stability index of the top-class mix against each camera's own "
            f"previous {drift.OWN_DAYS} days, or {escape(options.drift_baseline.source)} where a camera has less "
            f"history; above 0.25 is drift): <b>{drifted}</b> of {len(days)} camera-days.</p>" +
            _table(["camera", "day", "usable faces", "low quality", "confidence", "PSI", "verdict"], rows))


def build_report(con: duckdb.DuckDBPyConnection, options: ReportOptions) -> Report:
    m = options.min_tracks
    period = Period(options.since_ms, options.until_ms, options.site)
    length = options.until_ms - options.since_ms
    before_period = Period(options.since_ms - length, options.since_ms, options.site)
    hourly = with_net(source.hourly_sentiment(con, period), m)
    before = source.hourly_sentiment(con, before_period)
    by_camera = source.hourly_sentiment(con, period, by_camera=True)
    status = camera_status(con, period, by_camera, m)
    spans = offline_spans(status)
    alarms = source.alarms(con, period)
    quality = source.data_quality(con, period)
    tables: dict[str, pd.DataFrame] = {}
    hours = [int(h) for h in hour_grid(period)]
    sites = sorted({str(s) for s in hourly["site_id"]} | ({options.site} if options.site else set()))
    sections: list[tuple[str, str, str]] = []

    now_totals, before_totals = Totals.of(hourly), Totals.of(before)
    sections.append(("headline", "Headline", _headline(now_totals, before_totals, options)))

    episodes = alarm_episodes(alarms, options.until_ms)
    series = [_series(site, hourly[hourly["site_id"] == site], hours, svg.PALETTE[i % len(svg.PALETTE)])
              for i, site in enumerate(sites)]
    lanes = [svg.Lane(site, episodes.get((site, None), [])) for site in sites]
    over_time = svg.line_chart(svg.Chart(options.since_ms, options.until_ms, -1.0, 1.0,
                                         "Net score by hour (95% interval); red: site alarms", "net score", series,
                                         lanes=lanes, height=240 + 13 * len(lanes)))
    raised = alarms[alarms["state"] == "ALARM"] if len(alarms) else alarms
    by_rule = raised.groupby(["site_id", "rule"]).size().rename("raised").reset_index() if len(raised) else None
    rule_table = "" if by_rule is None else _table(
        ["site", "rule", "alarms raised (site and cameras)"],
        [[escape(str(r.site_id)), escape(str(r.rule)), str(r.raised)] for r in by_rule.itertuples()])
    sections.append(("over-time", "Sentiment over time", over_time +
                     f"<p class='note'>Hours with fewer than {m} customers are left blank ({TOO_FEW}); closed "
                     f"hours are blank too. {len(raised)} alarm(s) raised in the period.</p>" + rule_table))

    cells, heat_table = heatmap_cells(hourly, m)
    sections.append(("heatmap", "Hour × weekday", svg.heatmap(cells, m, "Net score by weekday and hour (UTC)")))

    camera_rows, camera_charts = [], []
    for (site, camera), rows in status.groupby(["site_id", "camera_id"], sort=True):
        totals = Totals.of(rows)
        offline = int(rows["offline"].sum())
        camera_rows.append([escape(f"{site}/{camera}"), str(totals.visits), str(totals.tracks),
                            _estimate(totals.net(m)), f"{offline} h" if offline else "—"])
        cam_spans = [svg.Span(int(r.from_ms), int(r.to_ms), f"camera offline: no heartbeat for {r.hours} h")
                     for r in spans[(spans["site_id"] == site) & (spans["camera_id"] == camera)].itertuples()]
        lane = [svg.Lane("alarms", episodes.get((str(site), str(camera)), []))]
        camera_charts.append(svg.line_chart(svg.Chart(
            options.since_ms, options.until_ms, -1.0, 1.0, f"{site}/{camera}: net score by hour; grey = offline",
            "net score", [_series(camera, rows, hours)], spans=cam_spans, lanes=lane, height=183)))
    sections.append(("cameras", "Per camera", _table(["camera", "visits", "customers rated", "net score [95%]",
                                                      "offline"], camera_rows) + "".join(camera_charts)))

    mix = source.expression_mix(con, period)
    total = int(mix["tracks"].sum()) if len(mix) else 0
    if total >= m:
        by_class = mix.groupby("top_class")["tracks"].sum().sort_values(ascending=False)
        mix_html = svg.bars([(str(k), v / total, f"{v / total:.0%} ({int(v)})") for k, v in by_class.items()],
                            f"Expression mix over {total} customers", max_value=1.0)
        tables["expressions"] = by_class.rename("tracks").reset_index().assign(share=lambda d: d["tracks"] / total)
    else:
        mix_html = f"<p class='few'>{TOO_FEW} ({total}) to show an expression mix.</p>"
        tables["expressions"] = pd.DataFrame(columns=["top_class", "tracks", "share"])
    sections.append(("expressions", "Expression mix", mix_html))

    daily = hourly.assign(day=hourly["hour_ms"] // 86_400_000 * 86_400_000).groupby("day").agg(
        visits=("visits", "sum"), tracks=("tracks", "sum")) if len(hourly) else pd.DataFrame(columns=["visits"])
    visit_bars = svg.bars([(datetime.fromtimestamp(int(d) / 1000, UTC).strftime("%a %d %b"), float(v), str(int(v)))
                           for d, v in daily["visits"].items()], "Visits per day (faces seen, usable or not)")
    sections.append(("visits", "Visits", visit_bars))

    if options.forecast:
        history = source.hourly_sentiment(con, Period(0, options.until_ms, options.site))
        end = -(-options.until_ms // HOUR_MS) * HOUR_MS
        if options.forecast_from_ms is not None:
            end = min(end, options.forecast_from_ms)
        results = forecast_sites(history, end, ForecastConfig(min_tracks=m))
        sections.append(("forecast", "Forecast, next 7 days", _forecast_section(results, tables)))
    if options.business is not None:
        sections.append(("drivers", "Drivers", _drivers_section(con, options, tables)))

    if options.site is None and len(sites) > 1:
        league = []
        for site in sites:
            now = Totals.of(hourly[hourly["site_id"] == site])
            was = Totals.of(before[before["site_id"] == site])
            net = now.net(m)
            league.append((net.value if net else -9.0, [
                escape(site), str(now.visits), _pct_change(now.visits, was.visits), _estimate(net),
                _estimate(now.change(was, m)), escape(busiest_hours(hourly[hourly["site_id"] == site])),
                str(sum(1 for a in alarms.itertuples() if a.site_id == site and a.state == "ALARM"))]))
        league.sort(key=lambda r: -r[0])
        sections.append(("league", "Sites", _table(["site", "visits", "visits w/w", "net score [95%]",
                                                    "net change w/w [95%]", "busiest hours (visits)", "alarms"],
                                                   [r for _, r in league])))

    silent = [[escape(f"{r.site_id}/{r.camera_id}"), iso(r.from_ms), iso(r.to_ms), str(r.hours)]
              for r in spans.itertuples()]
    models = [[escape(str(r.version)), str(r.tracks), iso(r.first_ms), iso(r.last_ms)]
              for r in quality["models"].itertuples()]
    counts = [[escape(k), str(v)] for k, v in quality["events"].items()]
    quarantined = "unknown (no quarantine table)" if quality["quarantined"] is None else str(quality["quarantined"])
    sections.append(("quality", "Data quality",
                     _table(["table", "events in period"], counts) +
                     "<p>Records in quarantine, all time (invalid, kept with their reasons; the stream's dead "
                     f"letters): "
                     f"<b>{quarantined}</b></p>" +
                     ("<p>Silent cameras (no heartbeat; shown as gaps, never as zero):</p>" +
                      _table(["camera", "from (UTC)", "to (UTC)", "hours"], silent) if silent
                      else "<p>No silent camera in the period.</p>") +
                     "<p>Expression model versions:</p>" +
                     _table(["model version", "customers", "first seen", "last seen"], models) +
                     _drift_section(con, options, options.site, tables)))

    tables["hourly"] = hourly.assign(hour=[iso(h) for h in hourly["hour_ms"]])
    tables["cameras"] = status.assign(hour=[iso(h) for h in status["hour_ms"]])
    tables["heatmap"] = heat_table
    tables["alarms"] = alarms
    tables["silent_cameras"] = spans
    tables["quality"] = pd.DataFrame([{"what": f"events in {k}", "count": v} for k, v in quality["events"].items()]
                                     + [{"what": "records in quarantine", "count": quality["quarantined"]}])
    tables["model_versions"] = quality["models"]
    title = f"moodlens weekly report — {options.site or 'all sites'}"
    subtitle = (f"{iso(options.since_ms)} to {iso(options.until_ms)} UTC · compared with the {length // 86_400_000} "
                f"days before · numbers over fewer than {m} customers are suppressed")
    return Report(page(title, subtitle, sections), tables)


def write_report(report: Report, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.html"]
    written[0].write_text(report.html, encoding="utf-8")
    for name, table in report.tables.items():
        path = out / f"{name}.csv"
        internal = [c for c in table.columns if c in ("valence_sum", "valence_sumsq")]
        table.drop(columns=internal).to_csv(path, index=False)
        written.append(path)
    return written
