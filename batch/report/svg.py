"""Charts as inline SVG strings: no JavaScript, no library, no request; a report opens offline.

Missing values are gaps (the line stops), never zeros: a closed hour, an offline camera or a
suppressed aggregate draws nothing at all, and shaded spans say why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Series:
    name: str
    points: Sequence[tuple[int, float | None]]  # (time ms, value or None for a gap)
    color: str = PALETTE[0]
    band: Sequence[tuple[int, float | None, float | None]] = ()  # (time, low, high): a shaded interval
    band_outer: Sequence[tuple[int, float | None, float | None]] = ()


@dataclass
class Span:
    start_ms: int
    end_ms: int
    label: str
    color: str = "#bbbbbb"


@dataclass
class Lane:
    """A strip under the plot: alarm episodes (start, end, tooltip) of one site or camera."""

    label: str
    episodes: list[tuple[int, int, str]]


@dataclass
class Chart:
    start_ms: int
    end_ms: int
    y_min: float
    y_max: float
    title: str
    y_label: str = ""
    series: list[Series] = field(default_factory=list)
    markers: list[tuple[int, str]] = field(default_factory=list)  # (time, tooltip): alarms
    spans: list[Span] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    width: int = 920
    height: int = 240
    timezone: str = "UTC"  # the day marks are local midnights


def _local_midnights(start_ms: int, end_ms: int, timezone: str) -> list[int]:
    """Every local midnight in [start, end], as instants (a DST day is 23 or 25 hours long)."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(zone).date()
    out: list[int] = []
    while True:
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)
        if midnight > end_ms:
            return out
        if midnight >= start_ms:
            out.append(midnight)
        day += timedelta(days=1)


def _tick_values(y_min: float, y_max: float) -> list[float]:
    """Scores: four equal steps. Counts: whole multiples of 1, 2 or 5 x 10^k, at most six ticks."""
    span = y_max - y_min
    if span < 4:
        return [y_min + span * i / 4 for i in range(5)]
    step = 1
    while span / step > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50, ...
    first = -(-int(y_min) // step) * step
    return [float(v) for v in range(first, int(y_max) + 1, step)]


def _tick(value: float, y_min: float, y_max: float) -> str:
    """Axis numbers as people write them: whole numbers for counts, signed decimals for scores."""
    if y_max - y_min >= 4:
        return f"{value:,.0f}"
    return f"{value:+.2f}".replace("+0.00", "0").replace("-0.00", "0")


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def line_chart(chart: Chart) -> str:
    lane_h = 13
    widest = max((len(lane.label) for lane in chart.lanes), default=0)
    left, right, top, bottom = max(52, 6 * widest + 10), 12, 26, 30 + lane_h * len(chart.lanes)
    plot_w, plot_h = chart.width - left - right, chart.height - top - bottom
    span_ms = max(1, chart.end_ms - chart.start_ms)

    def x(ms: float) -> float:
        return left + (ms - chart.start_ms) / span_ms * plot_w

    def y(value: float) -> float:
        clipped = max(chart.y_min, min(chart.y_max, value))
        return top + (chart.y_max - clipped) / (chart.y_max - chart.y_min) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {chart.width} '
             f'{chart.height}" width="{chart.width}" height="{chart.height}"><title>{escape(chart.title)}</title>',
             f'<text x="{left}" y="16" class="ct">{escape(chart.title)}</text>']
    for span in chart.spans:
        x0, x1 = x(max(span.start_ms, chart.start_ms)), x(min(span.end_ms, chart.end_ms))
        parts.append(f'<rect class="span" x="{_fmt(x0)}" y="{top}" width="{_fmt(max(1.0, x1 - x0))}" height="{plot_h}" '
                     f'fill="{span.color}" fill-opacity="0.35"><title>{escape(span.label)}</title></rect>')
    for value in _tick_values(chart.y_min, chart.y_max):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_fmt(y(value))}" y2="{_fmt(y(value))}" '
                     f'stroke="#e5e5e5"/><text x="{left - 6}" y="{_fmt(y(value) + 4)}" class="ax" '
                     f'text-anchor="end">{_tick(value, chart.y_min, chart.y_max)}</text>')
    if chart.y_min < 0 < chart.y_max:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_fmt(y(0))}" y2="{_fmt(y(0))}" stroke="#999"/>')
    zone = ZoneInfo(chart.timezone)
    step = max(1, round(span_ms / DAY_MS / 10))
    for day in _local_midnights(chart.start_ms, chart.end_ms, chart.timezone)[::step]:
        label = datetime.fromtimestamp(day / 1000, UTC).astimezone(zone).strftime("%a %d %b")
        parts.append(f'<line x1="{_fmt(x(day))}" x2="{_fmt(x(day))}" y1="{top}" y2="{top + plot_h}" stroke="#eee"/>')
        if day < chart.end_ms:  # a day that starts where the chart ends is not on it (and its label would be cut)
            parts.append(f'<text x="{_fmt(x(day) + 3)}" y="{chart.height - 10}" class="ax">{label}</text>')
    for series in chart.series:
        for band, opacity in ((series.band_outer, 0.12), (series.band, 0.25)):
            for run in _segments([(t, None if lo is None or hi is None else 0.0) for t, lo, hi in band]):
                lookup = {t: (lo, hi) for t, lo, hi in band}
                upper = [f"{_fmt(x(t))},{_fmt(y(lookup[int(t)][1] or 0.0))}" for t, _ in run]
                lower = [f"{_fmt(x(t))},{_fmt(y(lookup[int(t)][0] or 0.0))}" for t, _ in reversed(run)]
                parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}" fill="{series.color}" '
                             f'fill-opacity="{opacity}" stroke="none"/>')
        for run in _segments([(float(t), v) for t, v in series.points]):
            if len(run) == 1:
                px, py = run[0]
                parts.append(f'<circle cx="{_fmt(x(px))}" cy="{_fmt(y(py))}" r="2" fill="{series.color}"/>')
                continue
            path = " ".join(f"{'M' if i == 0 else 'L'}{_fmt(x(px))},{_fmt(y(py))}" for i, (px, py) in enumerate(run))
            parts.append(f'<path class="series" d="{path}" fill="none" stroke="{series.color}" stroke-width="1.6">'
                         f'<title>{escape(series.name)}</title></path>')
    for when, tip in chart.markers:
        mx = x(when)
        parts.append(f'<path class="alarm" d="M{_fmt(mx)},{top + 2} l-5,-9 h10 z" fill="#d62728">'
                     f'<title>{escape(tip)}</title></path><line x1="{_fmt(mx)}" x2="{_fmt(mx)}" y1="{top}" '
                     f'y2="{top + plot_h}" stroke="#d62728" stroke-dasharray="2,3"/>')
    for index, lane in enumerate(chart.lanes):
        ly = top + plot_h + 4 + index * lane_h
        parts.append(f'<text x="{left - 4}" y="{ly + 9}" class="ax" text-anchor="end">{escape(lane.label)}</text>'
                     f'<rect x="{left}" y="{ly}" width="{plot_w}" height="{lane_h - 3}" fill="#f4f4f4"/>')
        for start, end, tip in lane.episodes:
            x0, x1 = x(max(start, chart.start_ms)), x(min(end, chart.end_ms))
            parts.append(f'<rect class="alarm" x="{_fmt(x0)}" y="{ly}" width="{_fmt(max(1.5, x1 - x0))}" '
                         f'height="{lane_h - 3}" fill="#d62728"><title>{escape(tip)}</title></rect>')
    legend_x = left + plot_w
    for series in reversed(chart.series):
        width = 8 + 7 * len(series.name)
        legend_x -= width + 12
        parts.append(f'<rect x="{legend_x}" y="8" width="10" height="4" fill="{series.color}"/>'
                     f'<text x="{legend_x + 13}" y="14" class="ax">{escape(series.name)}</text>')
    if chart.y_label:
        parts.append(f'<text x="12" y="{top + plot_h / 2}" class="ax" transform="rotate(-90 12 {top + plot_h / 2})" '
                     f'text-anchor="middle">{escape(chart.y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _diverging(value: float) -> str:
    """Red (−1) through white (0) to green (+1)."""
    v = max(-1.0, min(1.0, value))
    if v < 0:
        return f"rgb(255,{round(255 * (1 + v))},{round(255 * (1 + v))})"
    return f"rgb({round(255 * (1 - v))},{round(160 + 95 * (1 - v))},{round(255 * (1 - v))})"


def heatmap(cells: dict[tuple[int, int], tuple[float | None, int]], min_tracks: int, title: str) -> str:
    """Hour (columns) x weekday (rows); cells: (weekday, hour) -> (net score or None, tracks)."""
    cell, left, top = 34, 40, 34
    width, height = left + 24 * cell + 10, top + 7 * cell + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>'
             '<defs><pattern id="few" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f2f2"/>'
             '<line x1="0" y1="0" x2="0" y2="6" stroke="#c8c8c8" stroke-width="2"/></pattern></defs>',
             f'<text x="{left}" y="14" class="ct">{escape(title)}</text>']
    for hour in range(24):
        parts.append(f'<text x="{left + hour * cell + cell / 2}" y="{top - 6}" class="ax" text-anchor="middle">'
                     f'{hour:02d}</text>')
    for day in range(7):
        parts.append(f'<text x="{left - 6}" y="{top + day * cell + cell / 2 + 4}" class="ax" text-anchor="end">'
                     f'{WEEKDAYS[day]}</text>')
        for hour in range(24):
            value, tracks = cells.get((day, hour), (None, 0))
            x, y = left + hour * cell, top + day * cell
            if tracks == 0:
                tip, fill, text = "no customers (closed or no data)", "#ffffff", ""
            elif value is None or tracks < min_tracks:
                tip, fill, text = f"too few customers ({tracks})", "url(#few)", ""
            else:
                tip, fill, text = f"net score {value:+.2f} over {tracks} customers", _diverging(value), f"{value:+.1f}"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}" stroke="#ddd">'
                         f'<title>{WEEKDAYS[day]} {hour:02d}:00 — {escape(tip)}</title></rect>')
            if text:
                parts.append(f'<text x="{x + cell / 2 - 1}" y="{y + cell / 2 - 1}" class="cell" text-anchor="middle">'
                             f'{text}</text>')
            if tracks:  # how many customers stand behind the colour
                parts.append(f'<text x="{x + cell / 2 - 1}" y="{y + cell - 7}" class="n" text-anchor="middle">'
                             f'{tracks}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars(rows: Sequence[tuple[str, float, str]], title: str, max_value: float | None = None,
         color: str = PALETTE[0]) -> str:
    """Horizontal bars: (label, value >= 0, text shown beside the bar)."""
    row_h, left, width = 22, 120, 620
    height = 28 + row_h * max(1, len(rows))
    top_value = max_value or max((v for _, v, _ in rows), default=1.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>'
             f'<text x="4" y="14" class="ct">{escape(title)}</text>']
    for i, (label, value, text) in enumerate(rows):
        y = 24 + i * row_h
        length = max(0.0, value) / top_value * (width - left - 120)
        parts.append(f'<text x="{left - 6}" y="{y + 14}" class="ax" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{_fmt(length)}" height="{row_h - 8}" fill="{color}"/>'
                     f'<text x="{_fmt(left + length + 6)}" y="{y + 14}" class="ax">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def forest(rows: Sequence[tuple[str, float, float, float]], title: str) -> str:
    """Estimates with 95% intervals around a zero line: (label, estimate, low, high)."""
    row_h, left, width = 26, 140, 620
    height = 44 + row_h * max(1, len(rows))
    bound = max([abs(v) for _, e, lo, hi in rows for v in (e, lo, hi)] + [0.05]) * 1.1
    plot = width - left - 20

    def x(value: float) -> float:
        return left + (value + bound) / (2 * bound) * plot

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart forest" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>'
             f'<text x="4" y="14" class="ct">{escape(title)}</text>'
             f'<line x1="{_fmt(x(0))}" x2="{_fmt(x(0))}" y1="22" y2="{height - 18}" stroke="#999"/>'
             f'<text x="{_fmt(x(-bound))}" y="{height - 4}" class="ax">{-bound:+.2f}</text>'
             f'<text x="{_fmt(x(bound))}" y="{height - 4}" class="ax" text-anchor="end">{bound:+.2f}</text>']
    for i, (label, estimate, low, high) in enumerate(rows):
        y = 34 + i * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 4}" class="ax" text-anchor="end">{escape(label)}</text>'
                     f'<line x1="{_fmt(x(low))}" x2="{_fmt(x(high))}" y1="{y}" y2="{y}" stroke="#333" '
                     'stroke-width="2"/>'
                     f'<circle cx="{_fmt(x(estimate))}" cy="{y}" r="4" fill="{PALETTE[0]}">'
                     f'<title>{escape(label)}: {estimate:+.3f} [{low:+.3f}, {high:+.3f}]</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
