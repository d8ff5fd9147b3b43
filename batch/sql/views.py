"""The lake's views: Trino SQL files (Athena runs them as they are), transpiled for DuckDB.

The text holds placeholders filled from the one definition in code: `{min_tracks}` (the
stream's minimum number of tracks, below which measures are suppressed), `{positive}` /
`{negative}` (the expression classes that count +1 / -1 in the net score), `{net_columns}`
(net_score, net_low, net_high from columns tracks, positive, negative: the interval of
`batch.analytics.measures.net_score`) and `{suppressed}` (a row below the minimum, or one the
complementary suppression hides: columns tracks, hidden_cells, tracks_before) and
`{suppression_ranks:<tie-break column>}` (those hidden_cells and tracks_before over each site's
local day, the fewest tracks first, ties broken by the named column).

Times: the lake keeps instants (UTC); `at_timezone(instant, sites.timezone)` gives the site's
local time. Trino (Athena) runs its own function, with Java's zone data; DuckDB gets the project's
`local_time(instant, zone)` (`batch.sql.local_time`: a local timestamp from the pinned tzdata, the zone
data of the site file, the report and the page), never DuckDB's `AT TIME ZONE` and its ICU zone data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import sqlglot

from batch.analytics.measures import Z_975
from batch.sql.local_time import NAME as LOCAL_TIME
from schemas.expressions import NEGATIVE, POSITIVE
from schemas.privacy import DEFAULT_MIN_TRACKS


@dataclass(frozen=True)
class View:
    name: str
    trino: str
    summary: str = ""  # the file's opening comment, for `moodlens sql --tables`

    def duckdb(self) -> str:
        return _transpiled(self.trino)

    def tables(self) -> frozenset[str]:
        return _tables(self.trino)


def _at_time_zone(node: sqlglot.exp.Expression) -> sqlglot.exp.Expression:
    if isinstance(node, sqlglot.exp.Anonymous) and node.name.lower() == "at_timezone":
        instant, zone = node.expressions
        return sqlglot.exp.Anonymous(this=LOCAL_TIME, expressions=[instant, zone])
    return node


def duckdb_sql(trino: str) -> str:
    """A Trino query (Athena's dialect) as DuckDB runs it, `at_timezone` as `local_time` (which the
    connection must have: `batch.sql.local_time.register_local_time`)."""
    return _transpiled(trino)


@cache
def _transpiled(trino: str) -> str:
    return sqlglot.parse_one(trino, read="trino").transform(_at_time_zone).sql(dialect="duckdb")


@cache
def _tables(trino: str) -> frozenset[str]:
    return frozenset(t.name for t in sqlglot.parse_one(trino, read="trino").find_all(sqlglot.exp.Table))


def _quoted(names: frozenset[str]) -> str:
    return ", ".join(f"'{n}'" for n in sorted(names))


_SUPPRESSED = "(tracks < {m} OR (hidden_cells > 0 AND coalesce(tracks_before, 0) < {m}))"
# The adjusted Wald interval of batch.analytics.measures.net_score, clipped to [-1, 1] and
# always holding the estimate itself.
_NET = """CASE WHEN NOT {hidden} THEN CAST(positive - negative AS double) / tracks END AS net_score,
  CASE WHEN NOT {hidden} THEN greatest(-1.0, least(CAST(positive - negative AS double) / tracks,
    CAST(positive - negative AS double) / (tracks + 2) - {z} * sqrt(greatest(
      CAST(positive + negative + 2 AS double) / (tracks + 2)
      - power(CAST(positive - negative AS double) / (tracks + 2), 2), 0.0) / (tracks + 2)))) END AS net_low,
  CASE WHEN NOT {hidden} THEN least(1.0, greatest(CAST(positive - negative AS double) / tracks,
    CAST(positive - negative AS double) / (tracks + 2) + {z} * sqrt(greatest(
      CAST(positive + negative + 2 AS double) / (tracks + 2)
      - power(CAST(positive - negative AS double) / (tracks + 2), 2), 0.0) / (tracks + 2)))) END AS net_high"""


# Complementary suppression's two columns over a site's local day: how many cells are below the minimum, and
# the tracks of the cells ranked before this one (those below the minimum first, then the fewest tracks).
_RANKS = """count_if(tracks < {m}) OVER (PARTITION BY site_id, local_date) AS hidden_cells,
    sum(tracks) OVER (
      PARTITION BY site_id, local_date ORDER BY tracks < {m} DESC, tracks, {tie}
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS tracks_before"""


@dataclass(frozen=True)
class _Ranks:
    """`{suppression_ranks:<column>}`: `_RANKS` with that tie-break column."""

    min_tracks: int

    def __format__(self, tie: str) -> str:
        if not re.fullmatch(r"[a-z_]+", tie):
            raise ValueError(f"suppression_ranks: name the tie-break column ({{suppression_ranks:hour}}), not {tie!r}")
        return _RANKS.format(m=self.min_tracks, tie=tie)


def render(text: str, min_tracks: int = DEFAULT_MIN_TRACKS) -> str:
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    hidden = _SUPPRESSED.format(m=min_tracks)
    return body.format(min_tracks=min_tracks, positive=_quoted(POSITIVE), negative=_quoted(NEGATIVE),
                       suppressed=hidden, net_columns=_NET.format(hidden=hidden, z=repr(Z_975)),
                       suppression_ranks=_Ranks(min_tracks)).strip()


@cache
def views(min_tracks: int = DEFAULT_MIN_TRACKS) -> tuple[View, ...]:
    folder = resources.files("batch.sql") / "views"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return tuple(View(f.name.removesuffix(".sql"), render(text, min_tracks), _summary(text, min_tracks))
                 for f in files for text in [f.read_text(encoding="utf-8")])


def _summary(text: str, min_tracks: int) -> str:
    lines = []
    for line in text.splitlines():
        if not line.lstrip().startswith("--"):
            break
        lines.append(line.lstrip()[2:].strip())
    # A sentence ends at a full stop and a space, not at the ".." of a range ("1 Monday .. 7 Sunday").
    first = re.split(r"(?<!\.)\.\s", " ".join(lines) + " ", maxsplit=1)[0]
    return first.rstrip(".").replace("{min_tracks}", str(min_tracks))
