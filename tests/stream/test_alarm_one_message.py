"""One spell, one message (`stream.alarms`): while ``low_sentiment`` or ``sentiment_drop`` is raised at a
site, the other raises no site alarm there; when it clears, the other starts its evidence afresh.

The customers come from the small simulation of `test_alarm_behaviour`: a site open 9:00-21:00 at +0.2,
learnt for eight days (every hour of the week seen once before, `stream.usual`), then spells of a known
truth on the ninth.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.types import SentimentAlarm
from stream.alarm_machine import Rule
from stream.alarms import AlarmConfig, AlarmEngine
from stream.engine import Tick
from tests.stream.test_alarm_behaviour import Mood, raised, simulate
from tests.stream.test_alarm_sequential import DAY, SEEN, first_open_minute, open_days

PER_MINUTE = 1.4  # about 20 customers in a 15-minute window
ORDINARY = 0.2
SPELL = -0.5
SENTIMENT: tuple[Rule, ...] = ("low_sentiment", "sentiment_drop")


def site_alarms(alarms: list[SentimentAlarm]) -> list[SentimentAlarm]:
    return [a for a in alarms if a["camera_id"] is None and a["rule"] in SENTIMENT]


def spells(*bad: tuple[int, int]) -> Mood:
    """The ordinary site, at ``SPELL`` in each (start, end) minute range."""
    ordinary = open_days(ORDINARY)
    def mood(minute: int) -> float | None:
        level = ordinary(minute)
        if level is None:
            return None
        return SPELL if any(start <= minute < end for start, end in bad) else level
    return mood


def never_both_raised(alarms: list[SentimentAlarm]) -> bool:
    """At no moment are both site-level sentiment rules raised at the site."""
    up: set[str] = set()
    for a in site_alarms(alarms):
        if a["state"] == "ALARM":
            if up - {a["rule"]}:
                return False
            up.add(a["rule"])
        else:
            up.discard(a["rule"])
    return True


def raises(alarms: list[SentimentAlarm]) -> list[tuple[str, int, int | None]]:
    """(rule, raised minute, cleared minute or None) of the site's sentiment alarms, by raise time."""
    return sorted(((rule, begun, cleared) for rule in SENTIMENT
                   for begun, cleared in raised(site_alarms(alarms), rule)), key=lambda r: r[1])


@pytest.mark.parametrize("seed", range(3))
def test_a_spell_both_rules_see_is_told_once(seed: int) -> None:
    """A bad hour at -0.5 on the ninth day: each rule alone raises it (the other set out of reach);
    with both, one site alarm is raised for it, never both at once, and it clears."""
    start = first_open_minute(SEEN, 14)
    ticks = simulate(spells((start, start + 60)), start + 4 * 60, PER_MINUTE, seed)
    low_alone = site_alarms(AlarmEngine(AlarmConfig(false_alarms_per_month=1e-12)).process(ticks))
    drop_alone = site_alarms(AlarmEngine(AlarmConfig(low_raise=-1.0, low_clear=-1.0)).process(ticks))
    assert any(start <= begun <= start + 75 for begun, _ in raised(low_alone, "low_sentiment"))
    assert any(start <= begun <= start + 75 for begun, _ in raised(drop_alone, "sentiment_drop"))
    both = AlarmEngine().process(ticks)
    told = [r for r in raises(both) if start <= r[1] <= start + 75]
    assert len(told) == 1 and told[0][2] is not None
    assert never_both_raised(both)


@pytest.mark.parametrize("seed", range(3))
def test_a_second_spell_after_the_first_cleared_is_told_again(seed: int) -> None:
    """Two bad hours on the ninth day, 11:00 and 16:00: the second is a new incident, told in its own hour
    although the first was told by one rule and the other rule's evidence was set aside meanwhile."""
    first, second = first_open_minute(SEEN, 11), first_open_minute(SEEN, 16)
    ticks = simulate(spells((first, first + 60), (second, second + 60)), second + 3 * 60, PER_MINUTE, seed)
    alarms = AlarmEngine().process(ticks)
    told = raises(alarms)
    assert any(first <= begun <= first + 75 for _, begun, _ in told)
    assert any(second <= begun <= second + 75 for _, begun, _ in told)
    assert never_both_raised(alarms)
    assert all(cleared is not None for _, _, cleared in told)


@pytest.mark.parametrize("seed", range(2))
def test_a_spell_at_closing_resolves_quietly_and_nothing_is_raised_after_it(seed: int) -> None:
    """A bad last hour (20:00-21:00, the site closes at 21:00): one site alarm, resolved for no customers
    once the site is closed, and the other rule raises nothing for that spell after it (not at closing,
    not the next morning)."""
    start = first_open_minute(SEEN, 20)
    ticks = simulate(spells((start, start + 60)), start + 14 * 60, PER_MINUTE, seed)
    alarms = AlarmEngine().process(ticks)
    told = raises(alarms)
    assert len(told) == 1 and start <= told[0][1] <= start + 60
    resolved = [a for a in site_alarms(alarms) if a["state"] == "OK"]
    assert len(resolved) == 1 and "no customers" in resolved[0]["reason"]


@functools.cache
def _learnt(seed: int) -> str:
    """The engine's state after eight ordinary days (json: each example restores its own copy)."""
    engine = AlarmEngine()
    engine.process(simulate(open_days(ORDINARY), first_open_minute(SEEN, 0), PER_MINUTE, seed))
    return json.dumps(engine.snapshot())


def _ninth_day(bad: list[tuple[int, int, float]], seed: int) -> list[Tick]:
    midnight = first_open_minute(SEEN, 0)
    ordinary = open_days(ORDINARY)
    def mood(minute: int) -> float | None:
        level = ordinary(midnight + minute)
        if level is None:
            return None
        return min([level, *(net for start, length, net in bad if start <= minute < start + length)])
    return simulate(mood, DAY, PER_MINUTE, seed + 100, first=midnight)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.integers(9 * 60, 21 * 60), st.integers(5, 150), st.floats(-0.8, 0.1)), max_size=4),
       st.integers(0, 1))
def test_whatever_the_spells_the_site_rules_are_never_raised_together_and_all_clear(
        bad: list[tuple[int, int, float]], seed: int) -> None:
    """Any sour spells on the ninth day (start, length, level): at no minute are both site rules raised,
    and after closing nothing is left raised."""
    engine = AlarmEngine.restore(json.loads(_learnt(seed)))
    alarms: list[Any] = engine.process(_ninth_day(bad, seed))
    assert never_both_raised(alarms)
    assert all(engine.state_of(rule, "cafe") == "OK" for rule in SENTIMENT)


@pytest.mark.parametrize("seed", range(3))
def test_the_evidence_of_a_spell_already_told_is_set_aside_when_its_alarm_clears(seed: int) -> None:
    """While low_sentiment tells a bad hour, the drop rule's CUSUM keeps gathering the same spell's evidence
    (it may not raise); when low_sentiment clears, that evidence is set aside: at that minute the site's
    CUSUM holds nothing from before it, so the drop rule cannot tell the spell again on it."""
    start = first_open_minute(SEEN, 14)
    ticks = simulate(spells((start, start + 60)), start + 4 * 60, PER_MINUTE, seed)
    cautious = AlarmConfig(false_alarms_per_month=1e-3)  # the drop rule slower than low_sentiment on the bad hour
    engine = AlarmEngine(cautious)
    cleared = None
    for tick in ticks:
        if any(a["rule"] == "low_sentiment" and a["camera_id"] is None and a["state"] == "OK"
               for a in engine.process([tick])):
            cleared = tick.end_ms
            break
    assert cleared is not None
    assert engine.state_of("sentiment_drop", "cafe") == "OK"
    site = [row for row in engine.snapshot()["cusums"] if row[:2] == ["cafe", ""]]
    assert all(row[3] is None or row[3] >= cleared - 60_000 for row in site)  # its change point: not before


@settings(max_examples=8, deadline=None)
@given(st.integers(9 * 60, 21 * 60), st.integers(0, 1))
def test_a_restart_anywhere_in_a_told_spell_gives_the_same_alarms(cut: int, seed: int) -> None:
    """A bad hour at 14:00 on the ninth day, the engine restored from its snapshot at any minute of the
    day (before, while one rule tells the spell and the other is held back, after): the same alarms."""
    ticks = _ninth_day([(14 * 60, 60, SPELL)], seed)
    whole = AlarmEngine.restore(json.loads(_learnt(seed))).process(ticks)
    assert raises(whole)
    engine = AlarmEngine.restore(json.loads(_learnt(seed)))
    head = engine.process(ticks[:cut])
    restored = AlarmEngine.restore(json.loads(json.dumps(engine.snapshot())))
    assert head + restored.process(ticks[cut:]) == whole
