"""The lake's views: Trino SQL files (Athena runs them as they are), transpiled for DuckDB.

The text holds three placeholders filled from the one definition in code: `{min_tracks}` (the
stream's minimum number of tracks, below which measures are suppressed) and `{positive}` /
`{negative}` (the expression classes that count +1 / -1 in the net score).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import sqlglot

from schemas.expressions import NEGATIVE, POSITIVE

# The stream's EngineConfig.min_tracks (a test keeps them equal; batch does not import stream).
MIN_TRACKS = 5


@dataclass(frozen=True)
class View:
    name: str
    trino: str

    def duckdb(self) -> str:
        return _transpiled(self.trino)

    def tables(self) -> frozenset[str]:
        return _tables(self.trino)


@cache
def _transpiled(trino: str) -> str:
    return sqlglot.transpile(trino, read="trino", write="duckdb")[0]


@cache
def _tables(trino: str) -> frozenset[str]:
    return frozenset(t.name for t in sqlglot.parse_one(trino, read="trino").find_all(sqlglot.exp.Table))


def _quoted(names: frozenset[str]) -> str:
    return ", ".join(f"'{n}'" for n in sorted(names))


def render(text: str, min_tracks: int = MIN_TRACKS) -> str:
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return body.format(min_tracks=min_tracks, positive=_quoted(POSITIVE), negative=_quoted(NEGATIVE)).strip()


@cache
def views(min_tracks: int = MIN_TRACKS) -> tuple[View, ...]:
    folder = resources.files("batch.sql") / "views"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return tuple(View(f.name.removesuffix(".sql"), render(f.read_text(encoding="utf-8"), min_tracks)) for f in files)
