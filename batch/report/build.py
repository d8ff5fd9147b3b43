"""The weekly report: one self-contained HTML file (inline CSS and SVG, no script, no request) + CSVs.

`build_report(con, options)` reads the lake's tables through `batch.analytics.source` and returns
the HTML and every table behind it; `write_report` puts them in a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from batch.analytics import source
from batch.analytics.forecast import ForecastConfig, forecast_sites
from batch.analytics.source import Period
from batch.drift import Baseline
from batch.report import svg
from batch.report.data import (
    HOUR_MS,
    Totals,
    alarm_episodes,
    busiest_hours,
    camera_status,
    day_complements,
    heatmap_cells,
    hour_grid,
    iso,
    local_day,
    offline_spans,
    with_local_time,
    with_net,
)
from batch.report.page import page
from batch.report.sections import (
    NOBODY,
    TOO_FEW,
    drift_section,
    drivers_section,
    estimate_html,
    forecast_section,
    table_html,
)
from batch.sql.output import formula_safe
from schemas.privacy import DEFAULT_MIN_TRACKS, hidden_with_complements


@dataclass(frozen=True)
class ReportOptions:
    since_ms: int
    until_ms: int
    site: str | None = None
    min_tracks: int = DEFAULT_MIN_TRACKS
    business: pd.DataFrame | None = None
    forecast: bool = True
    drift_baseline: Baseline | None = None  # the model card's; None leaves model drift out
    # Where the forecast's history ends (an hour boundary); None: the end of the period. Give it
    # when the period runs past the lake's last finished hour (a report built mid-day).
    forecast_from_ms: int | None = None
    timezone: str = "UTC"  # the site's: days, hours and weekdays are its local ones
    now_ms: int | None = None  # hours from here on have not happened: never offline nor anomalous
    period_note: str = ""  # how the period was chosen (complete local days, or to date against the same hours)
    paper: str = "A4"  # or "Letter"
    site_zones: tuple[tuple[str, str], ...] = ()  # (site, IANA zone) where a site has its own; else `timezone`

    def zone(self, site: str) -> str:
        return dict(self.site_zones).get(site, self.timezone)


@dataclass
class Report:
    html: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _pct_change(now: int, before: int) -> str:
    return "n/a (no visits the week before)" if before == 0 else f"{(now - before) / before:+.0%}"


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


def _hidden_within(keys: list[tuple[Any, ...]], tracks: list[int], min_tracks: int) -> set[tuple[Any, ...]]:
    """The keys whose numbers to hide, complements included, per site (their first element): a
    site's headline minus its shown cameras must not give back a hidden one."""
    hidden: set[tuple[Any, ...]] = set()
    for site in {k[0] for k in keys}:
        mine = [(k, t) for k, t in zip(keys, tracks, strict=True) if k[0] == site] if len(keys[0]) > 1 else \
            list(zip(keys, tracks, strict=True))
        flags = hidden_with_complements([t for _, t in mine], min_tracks)
        hidden |= {k for (k, _), flag in zip(mine, flags, strict=True) if flag}
    return hidden


def _compared(options: ReportOptions) -> tuple[str, str]:
    """What the period is compared with, in words and as a column heading: the same length of time
    before, which is a week only for a week (local days across a clock change included)."""
    days = (options.until_ms - options.since_ms) / (24 * HOUR_MS)
    whole = round(days)
    if whole == 7 and abs(days - 7) < 0.1:
        return "week on week", "w/w"
    if whole >= 1 and abs(days - whole) < 0.1:
        return ("against the day before" if whole == 1 else f"against the {whole} days before"), "vs before"
    return f"against the {round(days * 24)} hours before", "vs before"


def _headline(now: Totals, before: Totals, options: ReportOptions) -> str:
    m = options.min_tracks
    compared, _ = _compared(options)
    cards = [
        ("Visits", f"<b>{now.visits}</b>", f"{compared} {_pct_change(now.visits, before.visits)} "
                                          f"(before: {before.visits})"),
        ("Customers rated (usable faces)", f"<b>{now.tracks}</b>", f"before: {before.tracks}"),
        ("Net score (positive − negative share), 95% interval", estimate_html(now.net(m)),
         f"change {compared}: " + estimate_html(now.change(before, m))),
        ("Mean valence (−1..+1), 95% interval", estimate_html(now.valence(m)),
         "before: " + estimate_html(before.valence(m))),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="label">{escape(t)}</div><div class="value">{v}</div>'
        f'<div class="sub">{s}</div></div>' for t, v, s in cards) + "</div>"


def _quality_section(con: duckdb.DuckDBPyConnection, options: ReportOptions, quality: dict[str, Any],
                     spans: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> str:
    tz = options.timezone
    silent = [[escape(f"{r.site_id}/{r.camera_id}"), iso(r.from_ms, zone), iso(r.to_ms, zone), str(r.hours)]
              for r in spans.itertuples() for zone in [options.zone(str(r.site_id))]]
    silent_zones = {options.zone(str(site)) for site in spans["site_id"]} if len(spans) else {tz}
    shown_in = next(iter(silent_zones)) if len(silent_zones) == 1 else "each camera's site"
    models = [[escape(str(r.version)), str(r.tracks), iso(r.first_ms, tz), iso(r.last_ms, tz)]
              for r in quality["models"].itertuples()]
    counts = [[escape(k), str(v), escape(_EMPTY[k]) if v == 0 else ""] for k, v in quality["events"].items()]
    quarantined = "unknown (no quarantine table)" if quality["quarantined"] is None else str(quality["quarantined"])
    return (table_html(["table", "events in period", ""], counts) +
            "<p>Records in quarantine, all time (invalid, kept with their reasons; the stream's dead "
            f"letters): <b>{quarantined}</b></p>" +
            (f"<p>Silent cameras (no heartbeat; shown as gaps, never as zero), local time ({escape(shown_in)}):</p>" +
             table_html(["camera", "from", "to", "hours"], silent) if silent
             else "<p>No silent camera in the period.</p>") +
            "<p>Expression model versions:</p>" +
            table_html(["model version", "customers", "first seen", "last seen"], models) +
            drift_section(con, options, options.site, tables))


# What an empty table means: most are a consequence of how the lake was fed, not a fault.
_EMPTY = {
    "face_expression": "no face seen: cameras off, nobody came, or the lake not compacted yet",
    "camera_heartbeat": "no camera reported: the edges did not run in this period",
    "sentiment_window": "the stream's windows are not in this lake (compact with --state to add them)",
    "sentiment_alarm": "no alarm changed state (or the stream's alarms are not in this lake)",
}


def build_report(con: duckdb.DuckDBPyConnection, options: ReportOptions) -> Report:
    m, tz = options.min_tracks, options.timezone
    period = Period(options.since_ms, options.until_ms, options.site)
    length = options.until_ms - options.since_ms
    before_period = Period(options.since_ms - length, options.since_ms, options.site)
    site_hours = source.hourly_sentiment(con, period)
    hourly = with_net(site_hours, m, ["site_id"], also_hidden=day_complements(site_hours, m, options.zone))
    before = source.hourly_sentiment(con, before_period)
    by_camera = source.hourly_sentiment(con, period, by_camera=True)
    status = camera_status(con, period, by_camera, m, options.now_ms, site_hours=hourly, zone_of=options.zone)
    tables: dict[str, pd.DataFrame] = {}
    spans = offline_spans(status)
    alarms = source.alarms(con, period)
    quality = source.data_quality(con, period)
    hours = [int(h) for h in hour_grid(period)]
    sites = sorted({str(s) for s in hourly["site_id"]} | ({options.site} if options.site else set()))
    sections: list[tuple[str, str, str]] = []

    now_totals, before_totals = Totals.of(hourly), Totals.of(before)
    sections.append(("headline", "Headline", _headline(now_totals, before_totals, options)))
    net, change = now_totals.net(m), now_totals.change(before_totals, m)
    tables["headline"] = pd.DataFrame([{
        "since": iso(options.since_ms, tz), "until": iso(options.until_ms, tz), "timezone": tz,
        "period": options.period_note, "visits": now_totals.visits, "visits_before": before_totals.visits,
        "customers_rated": now_totals.tracks, "net_score": net.value if net else None,
        "net_change": change.value if change else None}])

    episodes = alarm_episodes(alarms, options.until_ms, tz)
    raised = alarms[alarms["state"] == "ALARM"] if len(alarms) else alarms
    by_rule = raised.groupby(["site_id", "rule"]).size().rename("raised").reset_index() if len(raised) else None
    rule_table = "" if by_rule is None else table_html(
        ["site", "rule", "alarms raised (site and cameras)"],
        [[escape(str(r.site_id)), escape(str(r.rule)), str(r.raised)] for r in by_rule.itertuples()])
    heat_tables = []
    for i, site in enumerate(sites):  # one section per site: small multiples, never overlapping bands
        rows = hourly[hourly["site_id"] == site]
        chart = svg.line_chart(svg.Chart(options.since_ms, options.until_ms, -1.0, 1.0,
                                         f"{site}: net score by hour (95% interval); red: alarms", "net score",
                                         [_series(site, rows, hours, svg.PALETTE[i % len(svg.PALETTE)])],
                                         lanes=[svg.Lane("alarms", episodes.get((site, None), []))], height=253,
                                         timezone=options.zone(site)))
        cells, heat = heatmap_cells(rows, m, options.zone(site))
        heat_tables.append(heat.assign(site_id=site))
        total = int(rows["tracks"].sum()) if len(rows) else 0
        zone = options.zone(site)
        heatmap = svg.heatmap(cells, m, f"{site}: net score by weekday and hour ({zone}); small: customers "
                                        f"({total} in all)")
        anchor, heading = (f"site-{site}", f"Site {site}") if len(sites) > 1 else ("over-time", "Sentiment over time")
        sections.append((anchor, heading, chart + heatmap))
    sections.append(("alarms", "Alarms",
                     f"<p class='note'>Hours with fewer than {m} customers are left blank ({TOO_FEW}); closed "
                     f"hours are blank too. {len(raised)} alarm(s) raised in the period.</p>" + rule_table))

    camera_rows, camera_charts, unseen = [], [], []
    by_camera_totals = {key: Totals.of(rows) for key, rows in status.groupby(["site_id", "camera_id"], sort=True)}
    hidden_cameras = _hidden_within(list(by_camera_totals), [t.tracks for t in by_camera_totals.values()], m)
    for (site, camera), rows in status.groupby(["site_id", "camera_id"], sort=True):
        totals = by_camera_totals[(site, camera)]
        offline = int(rows["offline"].sum())
        camera_rows.append([escape(f"{site}/{camera}"), str(totals.visits), str(totals.tracks),
                            NOBODY if not totals.visits else
                            estimate_html(None if (site, camera) in hidden_cameras else totals.net(m)),
                            f"{offline} h" if offline else "—"])
        cam_spans = [svg.Span(int(r.from_ms), int(r.to_ms), f"camera offline: no heartbeat for {r.hours} h")
                     for r in spans[(spans["site_id"] == site) & (spans["camera_id"] == camera)].itertuples()]
        lane = [svg.Lane("alarms", episodes.get((str(site), str(camera)), []))]
        if not totals.visits and not cam_spans and not lane[0].episodes:  # an empty chart says nothing
            unseen.append(f"{site}/{camera}")
            continue
        camera_charts.append(svg.line_chart(svg.Chart(
            options.since_ms, options.until_ms, -1.0, 1.0, f"{site}/{camera}: net score by hour; grey = offline",
            "net score", [_series(camera, rows, hours)], spans=cam_spans, lanes=lane, height=183,
            timezone=options.zone(str(site)))))
    no_chart = (f"<p class='note'>No customer in the period, so no chart: {escape(', '.join(unseen))}.</p>"
                if unseen else "")
    sections.append(("cameras", "Per camera", table_html(["camera", "visits", "customers rated", "net score [95%]",
                                                          "offline"], camera_rows) + "".join(camera_charts) + no_chart))

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

    daily = hourly.assign(day=local_day(hourly["hour_ms"], tz)).groupby("day").agg(
        visits=("visits", "sum"), tracks=("tracks", "sum")) if len(hourly) else pd.DataFrame(columns=["visits"])
    visit_bars = svg.bars([(pd.Timestamp(d).strftime("%a %d %b"), float(v), str(int(v)))
                           for d, v in daily["visits"].items()],
                          f"Visits per local day ({tz}; faces seen, usable or not)")
    sections.append(("visits", "Visits", visit_bars))

    if options.forecast:
        history = source.hourly_sentiment(con, Period(0, options.until_ms, options.site))
        end = -(-options.until_ms // HOUR_MS) * HOUR_MS
        if options.forecast_from_ms is not None:
            end = min(end, options.forecast_from_ms)
        results = forecast_sites(history, end, ForecastConfig(min_tracks=m, timezone=tz), dict(options.site_zones))
        sections.append(("forecast", "Forecast, next 7 days", forecast_section(results, tables, options, end)))
    if options.business is not None:
        sections.append(("drivers", "Drivers", drivers_section(con, options, tables)))

    if options.site is None and len(sites) > 1:
        league = []
        site_totals = [Totals.of(hourly[hourly["site_id"] == site]).tracks for site in sites]
        hidden_sites = set(_hidden_within([(s,) for s in sites], site_totals, m))
        for site in sites:
            now = Totals.of(hourly[hourly["site_id"] == site])
            was = Totals.of(before[before["site_id"] == site])
            net = None if (site,) in hidden_sites else now.net(m)
            league.append((net.value if net else -9.0, [
                escape(site), str(now.visits), _pct_change(now.visits, was.visits), estimate_html(net),
                estimate_html(None if net is None else now.change(was, m)),
                escape(busiest_hours(hourly[hourly["site_id"] == site], 3, options.zone(site))),
                str(sum(1 for a in alarms.itertuples() if a.site_id == site and a.state == "ALARM"))]))
        league.sort(key=lambda r: -r[0])
        _, short = _compared(options)
        sections.append(("league", "Sites", table_html(["site", "visits", f"visits {short}", "net score [95%]",
                                                        f"net change {short} [95%]", "busiest hours (visits)",
                                                        "alarms"],
                                                       [r for _, r in league])))

    sections.append(("quality", "Data quality", _quality_section(con, options, quality, spans, tables)))
    tables["hourly"] = with_local_time(hourly, "hour_ms", "hour", options.zone)
    tables["cameras"] = with_local_time(status, "hour_ms", "hour", options.zone)
    tables["heatmap"] = pd.concat(heat_tables) if heat_tables else pd.DataFrame()
    tables["alarms"] = with_local_time(alarms, "time_ms", "time", options.zone)
    tables["silent_cameras"] = spans
    tables["quality"] = pd.DataFrame([{"what": f"events in {k}", "count": v} for k, v in quality["events"].items()]
                                     + [{"what": "records in quarantine", "count": quality["quarantined"]}])
    tables["model_versions"] = quality["models"]
    title = f"moodlens weekly report — {options.site or (sites[0] if len(sites) == 1 else 'all sites')}"
    subtitle = (f"{iso(options.since_ms, tz)} to {iso(options.until_ms, tz)} local time ({tz}) · "
                f"{options.period_note or 'compared with the same length of time before'} · numbers over fewer "
                f"than {m} customers are suppressed")
    return Report(page(title, subtitle, sections, tz, options.paper), tables)


def without_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (=, +, -, @, tab, CR first), quoted with a
    leading apostrophe: a camera named '=HYPERLINK(...)' stays text. Numbers are left as numbers."""
    out = table.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = [formula_safe(v) for v in out[column]]
    return out


def write_report(report: Report, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.html"]
    written[0].write_text(report.html, encoding="utf-8")
    for name, table in report.tables.items():
        path = out / f"{name}.csv"
        # counts per class beside a suppressed row would undo the suppression: net_score says it all
        internal = [c for c in table.columns if c in ("valence_sum", "valence_sumsq", "positive", "negative")]
        without_formulas(table.drop(columns=internal)).to_csv(path, index=False)
        written.append(path)
    return written
