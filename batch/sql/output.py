"""Query results as a readable table, CSV or JSON Lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa

MAX_CELL = 48


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e12 else f"{value:.6g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + ("" if value.tzinfo is None else "Z")
    if isinstance(value, (dict, list)):
        value = json.dumps(value, default=str)
    text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def as_text_table(table: pa.Table, max_rows: int = 1000) -> str:
    rows = table.slice(0, max_rows).to_pylist()
    names = table.column_names
    cells = [[_cell(row[n]) for n in names] for row in rows]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
               for f in table.schema]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]
    more = table.num_rows - len(rows)
    out.append(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''}"
               + (f", first {len(rows)} shown; use --format csv for all)" if more else ")"))
    return "\n".join(out)


def as_csv(table: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([_csv_cell(v) for v in row.values()])
    return buffer.getvalue().rstrip("\n")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with an apostrophe (OWASP's advice);
    anything else unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return formula_safe("; ".join(str(v) for v in value))
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return formula_safe(value)


def _json_value(value: Any) -> Any:
    # DuckDB's sum of integers is a 128-bit integer, which Arrow hands over as a Decimal: a number, not text.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def as_json_lines(table: pa.Table) -> str:
    return "\n".join(json.dumps(row, default=_json_value) for row in table.to_pylist())


FORMATS = {"table": as_text_table, "csv": as_csv, "json": as_json_lines}


def as_catalog(table: pa.Table) -> str:
    """`moodlens sql --tables` as text: each table and view, what it holds, then its columns."""
    out = []
    for row in table.to_pylist():
        out.append(f"{row['name']} ({row['kind']}): {row['description']}")
        out.extend(f"    {column}" for column in row["columns"].split("; ") if column)
    return "\n".join(out)
