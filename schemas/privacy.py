"""Privacy defaults every package shares: the fewest customers behind a number, how long events are kept,
and which more numbers to hide so that a hidden one cannot be worked out from those shown.

A sentiment measure over fewer tracks than the site's ``min_tracks`` setting (`stream.settings`, the
site file's ``[thresholds] min_tracks``, the AWS stack's thresholds) is suppressed: in the stream's
windows and alarms, the CloudWatch metrics, the lake's views (DuckDB and Athena), the report and the
analytics. This is that setting's default; the producers and readers of aggregates all take it from
here, and each takes the configured value where one is given.

Complements. Suppressing each number on its own is not enough where parts add up to a total shown
beside them: a site's window minus its cameras' shown windows (same end, same length) is the hidden
cameras' window, and with one hidden camera its score comes back. `complements` is the one rule for
parts and totals: the stream publishes its windows by it (`stream.published`; the page, the lake,
Firehose and CloudWatch get them so), the report hides its tables' cells by it
(`hidden_with_complements`), and the SQL views repeat it in SQL (`batch.sql.views`):

* nothing more is hidden when the total is hidden, when no part is hidden, or when the hidden parts
  together hold no customer or at least ``min_tracks`` (their difference is then an aggregate that
  could be shown on its own);
* otherwise the shown parts with the fewest customers (ties: the first in order) are hidden too,
  one by one, until the hidden parts hold ``min_tracks`` together. A shown part holds ``min_tracks``
  itself, so one is always enough; the shown parts then add up to the total minus ``min_tracks`` or
  more customers, never to a total minus one to ``min_tracks - 1`` of them.

Counts stay: a part's customers are not its mood. The parts must be disjoint and add up to the total
(a site's tracks are the sum of its cameras': a track belongs to one camera).

The lake keeps events ``DEFAULT_RETAIN_DAYS`` days unless told otherwise (`moodlens batch maintain
--retain-days`, the site file's ``[lake] retain_days``): older day partitions are deleted for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

DEFAULT_MIN_TRACKS: Final = 5
DEFAULT_RETAIN_DAYS: Final = 180


def complements(tracks: Sequence[int], shown: Sequence[bool], min_tracks: int, total_shown: bool = True) -> list[bool]:
    """Which of the shown parts of a total to hide too (the module's rule): one flag per part, true
    for a part shown now that must be hidden. ``tracks``: each part's customers; ``shown``: whether
    the part's measures are shown; ``total_shown``: whether the total's are."""
    if len(tracks) != len(shown):
        raise ValueError(f"{len(tracks)} track counts and {len(shown)} shown flags: one of each per part")
    more = [False] * len(tracks)
    hidden = sum(n for n, is_shown in zip(tracks, shown, strict=True) if not is_shown)
    if not total_shown or hidden == 0 or hidden >= min_tracks:
        return more
    for n, i in sorted((n, i) for i, (n, is_shown) in enumerate(zip(tracks, shown, strict=True)) if is_shown and n > 0):
        more[i], hidden = True, hidden + n
        if hidden >= min_tracks:
            break
    return more


def hidden_with_complements(tracks: Sequence[int], min_tracks: int) -> list[bool]:
    """Which of a group's cells to hide when their total is shown: every cell with 1 to min_tracks - 1
    customers, and their complements (`complements`)."""
    few = [0 < n < min_tracks for n in tracks]
    more = complements(tracks, [not f for f in few], min_tracks)
    return [f or m for f, m in zip(few, more, strict=True)]
