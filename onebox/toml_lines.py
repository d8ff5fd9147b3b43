"""Line numbers for TOML keys: `tomllib` parses values but forgets where they were.

Good enough for the site file's shape (tables, arrays of tables, `key = value` lines, multi-line
arrays): scans the text, tracks the current table and the index of each array-of-tables entry, and
records the first line of every key. Inline tables and dotted keys get the line of their parent key.
"""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*(\.[^=]*)?=")


def key_lines(text: str) -> dict[str, int]:
    """Maps dotted paths (`site.id`, `cameras[1].source`, `cameras[1]`) to 1-based line numbers."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    in_multiline = 0  # open brackets of a multi-line array value: its lines hold no keys
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if in_multiline:
            in_multiline += line.count("[") - line.count("]")
            continue
        if match := _ARRAY_TABLE.match(line):
            name = match.group(1).replace('"', "").strip()
            index = counts.get(name, 0)
            counts[name] = index + 1
            table = f"{name}[{index}]"
            lines.setdefault(table, number)
            lines.setdefault(name, number)
            continue
        if match := _TABLE.match(line):
            table = match.group(1).replace('"', "").strip()
            lines.setdefault(table, number)
            continue
        if match := _KEY.match(line):
            key = match.group(1).strip('"')
            path = f"{table}.{key}" if table else key
            lines.setdefault(path, number)
            value = line.split("=", 1)[1]
            in_multiline = max(0, value.count("[") - value.count("]"))
    return lines


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of `path`, else of its nearest parent (`cameras[0].zones[2]` -> `cameras[0].zones`)."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return None
        path = path[:cut]
    return None


def _strip_comment(line: str) -> str:
    """Drops a trailing # comment that is not inside a string."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return line
