"""``low_sentiment`` at a site whose ordinary level is already low (`stream.usual`).

A busy shop whose customers ordinarily come out at -0.35 (crowds, queues, the classifier's
neutral-to-sad confusion) sits below ``low_raise`` every day: the absolute rule alone raises it
daily, which a manager learns to ignore. Once the hour of the day has a baseline
(``baseline_min_days`` distinct days), a window counts as bad only when it is also below the site's
usual band, so the ordinary days go quiet and a real bad spell is still raised.
"""

from __future__ import annotations

from collections import Counter

import pytest

from stream.alarms import AlarmConfig, AlarmEngine
from stream.engine import Tick
from tests.stream.test_alarm_behaviour import raised, simulate
from tests.stream.test_alarm_sequential import DAY, WEEK, first_open_minute, open_days

BUSY = 4.0  # customers a minute: 60 in a 15-minute window, enough for -0.35 to be 2 standard errors below 0
LOW = -0.35
LEARNT = 4 * DAY  # baseline_min_days (3) distinct days, and the morning of the fourth


def site_alarms(config: AlarmConfig, ticks: list[Tick], rule: str) -> list[tuple[int, int | None]]:
    return raised([a for a in AlarmEngine(config).process(ticks) if a["camera_id"] is None], rule)


@pytest.mark.parametrize("seed", range(2))
def test_a_site_ordinarily_below_low_raise_is_not_alarmed_every_day(seed: int) -> None:
    """Two ordinary weeks at -0.35: the absolute rule alone raises low_sentiment on most days; judged
    against the site's usual band it raises at most twice once the baseline is learnt, and every raise
    clears."""
    ticks = simulate(open_days(LOW), 2 * WEEK, BUSY, seed)
    alone = site_alarms(AlarmConfig(low_against_usual=False), ticks, "low_sentiment")
    gated = site_alarms(AlarmConfig(), ticks, "low_sentiment")
    assert sum(begun >= LEARNT for begun, _ in alone) >= 7
    assert sum(begun >= LEARNT for begun, _ in gated) <= 2
    assert all(cleared is not None for _, cleared in gated)


@pytest.mark.parametrize("seed", range(2))
def test_a_bad_hour_at_such_a_site_is_still_raised(seed: int) -> None:
    """The same site with a bad hour at -0.85 on its sixth day: a site alarm is raised within the hour."""
    start = first_open_minute(5, 14)
    ticks = simulate(open_days(LOW, (start, start + 60, -0.85)), start + 180, BUSY, seed)
    raises = [begun for rule in ("low_sentiment", "sentiment_drop")
              for begun, _ in site_alarms(AlarmConfig(), ticks, rule) if start <= begun <= start + 60]
    assert raises


@pytest.mark.parametrize("seed", range(2))
def test_a_new_menu_that_sours_a_site_for_good_stops_alarming_within_four_days(seed: int) -> None:
    """+0.2 for two weeks, then -0.35 for good: raised on the first day after the change (it is a
    change), no storm (at most five site raises on any day), none stays raised (each clears, at the
    latest when the site closes), and from the fifth day on no more than the ordinary rate of the
    first test (two in the nine days left): the hour-of-day baselines followed in four days (4 of
    their 7 kept days at the new level, `stream.baseline`), so neither the drop rule nor
    low_sentiment calls the new level bad."""
    shift = first_open_minute(14, 0)
    def mood(minute: int) -> float | None:
        level = open_days(0.2)(minute)
        return None if level is None else (0.2 if minute < shift else LOW)
    ticks = simulate(mood, shift + 2 * WEEK, BUSY, seed)
    spans = [s for rule in ("low_sentiment", "sentiment_drop") for s in site_alarms(AlarmConfig(), ticks, rule)
             if s[0] >= shift]
    per_day = Counter((begun - shift) // DAY for begun, _ in spans)
    assert per_day[0] >= 1 and max(per_day.values()) <= 5
    assert all(cleared is not None for _, cleared in spans)
    assert sum(n for day, n in per_day.items() if day >= 4) <= 2
