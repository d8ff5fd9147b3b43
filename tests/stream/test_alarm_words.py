"""Every alarm reason the stream writes is plain words a shift manager understands: where, since when, how
long, the score against the alarm's level or the usual one, over how many customers; no statistics words;
and the numbers it says are the ones the alarm carries (``value``, ``threshold``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.types import SentimentAlarm
from schemas.validation import validate_event
from stream import alarm_words
from stream.alarms import AlarmConfig, AlarmEngine
from stream.engine import MINUTE_MS, Tick
from tests.stream.alarm_reasons import jargon, minutes_said, since
from tests.stream.helpers import T0
from tests.stream.test_alarm_behaviour import raised, simulate
from tests.stream.test_alarm_sequential import DROP_ONLY, SEEN, first_open_minute, open_days
from tests.stream.test_alarms import MECHANICS, window

DAY = 24 * 60


def minute_of_day(time_ms: int) -> int:
    return time_ms // MINUTE_MS % DAY


def check(alarm: SentimentAlarm) -> str:
    """What every reason must say; returns it for the rule's own checks."""
    reason = alarm["reason"]
    assert validate_event(alarm) == []
    assert not jargon(reason), (jargon(reason), reason)
    assert alarm_words.place(alarm["site_id"], alarm["camera_id"]) in reason, reason
    if alarm["rule"] != "camera_silent" and alarm["value"] is not None:
        assert f"{alarm['value']:+.2f}" in reason and f"{alarm['threshold']:+.2f}" in reason, reason
    if alarm["state"] == "ALARM":
        began = since(reason, "UTC")
        assert began is not None, reason
        assert minutes_said(reason) == (minute_of_day(alarm["event_time_ms"]) - began) % DAY, reason
    return reason


def ticks(nets: list[float | None], camera: str | None = "cam-a", tracks: int = 10) -> list[Tick]:
    return [Tick(T0 + (i + 1) * MINUTE_MS, [window(T0 + (i + 1) * MINUTE_MS, net, tracks, camera)], [])
            for i, net in enumerate(nets)]


def test_a_low_camera_says_which_since_when_its_score_and_customers_and_its_clear_says_it_is_fine() -> None:
    config = AlarmConfig(min_tracks=5, cameras=True, low_against_usual=False, **MECHANICS)
    alarms = AlarmEngine(config).process(ticks([0.4, -0.4, -0.4, -0.1, 0.2, 0.2], tracks=10))
    assert [(a["state"], (a["event_time_ms"] - T0) // MINUTE_MS) for a in alarms] == [("ALARM", 3), ("OK", 6)]
    up, down = (check(a) for a in alarms)
    # the earliest bad window (the one ending at minute 2) began 15 minutes before it ended
    assert since(up, "UTC") == minute_of_day(T0 + (2 - 15) * MINUTE_MS)
    assert "camera cam-a" in up and "unhappy" in up and "10 customers" in up and "alarm level -0.20" in up
    assert "fine again" in down and "+0.20 over 10 customers" in down and "+0.00" in down


def test_a_low_window_against_the_usual_level_says_the_usual_level() -> None:
    """A week at -0.4 teaches the usual level at this hour (the weekday seen a week before): the next
    week's -0.95 on the same weekday is raised, saying both the alarm level and the usual one."""
    engine = AlarmEngine(AlarmConfig(min_tracks=5, cameras=False))
    alarms: list[SentimentAlarm] = []
    for day in range(8):
        start = T0 + day * DAY * MINUTE_MS
        nets = [-0.4] * 45 if day < 7 else [-0.95] * 45
        alarms += engine.process([Tick(start + (i + 1) * MINUTE_MS,
                                       [window(start + (i + 1) * MINUTE_MS, net, 60, None)], [])
                                  for i, net in enumerate(nets)])
    told = [a for a in alarms if a["state"] == "ALARM" and a["event_time_ms"] >= T0 + 7 * DAY * MINUTE_MS]
    assert told
    reason = check(told[0])
    assert "site cafe" in reason and "usual -0.40" in reason and "60 customers" in reason
    assert told[0]["event_time_ms"] - T0 - 7 * DAY * MINUTE_MS <= 20 * MINUTE_MS  # told on that day's spell


def test_a_drop_against_the_hour_of_the_week_says_the_usual_score_and_how_long_it_was_learnt() -> None:
    config = AlarmConfig(window_minutes=15, min_tracks=5, low_raise=-0.9, low_clear=-0.9, baseline_min_days=3,
                         drop_detection="windows", **MECHANICS)
    engine = AlarmEngine(config)
    hour = T0 // 3_600_000 * 3_600_000
    week = 7 * DAY
    engine.process([Tick(hour + (w * week + i + 1) * MINUTE_MS,
                         [window(hour + (w * week + i + 1) * MINUTE_MS, 0.6 if i % 2 else 0.4, 40, None)], [])
                    for w in range(3) for i in range(30)])
    now = hour + 3 * week * MINUTE_MS
    alarms = engine.process([Tick(now + (i + 1) * MINUTE_MS, [window(now + (i + 1) * MINUTE_MS, net, 40, None)], [])
                             for i, net in zip(range(30, 36), [0.0, 0.0, 0.5, 0.5, 0.5, 0.5], strict=True)])
    assert [a["state"] for a in alarms] == ["ALARM", "OK"]
    up, down = (check(a) for a in alarms)
    assert "less happy than usual" in up and "3 days" in up and "40 customers" in up
    for text in (up, down):  # the usual score is what the three weeks taught: between their +0.4 and +0.6
        usual = re.search(r"usually ([+-]\d\.\d\d)", text)
        assert usual is not None and 0.4 <= float(usual[1]) <= 0.6
    assert "as happy as usual again" in down


def test_a_silent_camera_says_how_long_and_since_when_and_its_return() -> None:
    beats = {1: T0 + 30_000, 20: T0 + 19 * MINUTE_MS + 5_000}
    alarms = AlarmEngine(AlarmConfig()).process(
        [Tick(T0 + m * MINUTE_MS, [], [("cafe", "cam-a", beats[m])] if m in beats else []) for m in range(1, 22)])
    assert [a["state"] for a in alarms] == ["ALARM", "OK"]
    down, back = (a["reason"] for a in alarms)
    assert all(validate_event(a) == [] and not jargon(a["reason"]) for a in alarms)
    assert "camera cam-a" in down and f"{alarms[0]['value']:.1f} minutes" in down
    assert since(down, "UTC") == minute_of_day(T0 + 30_000)
    assert "camera cam-a" in back and "sending again" in back


@pytest.mark.parametrize("seed", [0])
def test_a_sequential_drop_and_its_clear_say_the_customers_since_the_spell_began(seed: int) -> None:
    start = first_open_minute(SEEN, 14)
    alarms = [a for a in AlarmEngine(DROP_ONLY).process(simulate(open_days(0.2, (start, start + 60, -0.4)),
                                                                 start + 240, 1.4, seed))
              if a["camera_id"] is None and a["rule"] == "sentiment_drop"]
    spans = raised(alarms, "sentiment_drop")
    assert spans and spans[0][1] is not None
    up, down = (check(a) for a in alarms[:2])
    assert "less happy than usual" in up and "customers since then" in up
    began = since(up, "UTC")
    assert began is not None
    if "no customers" not in down:  # the spell's customers since its start, the start as the raise said it
        assert "as happy as usual again" in down and f"since about {began // 60:02d}:{began % 60:02d} UTC" in down

nets = st.floats(-1, 1, allow_nan=False)
counts = st.integers(1, 5000)
places = st.builds(alarm_words.place, st.sampled_from(["cafe-7", "site-0"]), st.sampled_from([None, "cam-2", "door"]))
clocks = st.builds(lambda h, m, z: f"{h:02d}:{m:02d} {z}", st.integers(0, 23), st.integers(0, 59),
                   st.sampled_from(["CET", "UTC", "JST"]))


@given(places, clocks, st.integers(1, 600), nets, counts, st.sampled_from([5, 15, 60]), nets,
       st.one_of(st.none(), nets), st.sampled_from([None, -0.4]), st.one_of(st.none(), nets))
def test_every_low_raise_says_where_since_how_long_the_score_and_the_levels(
        where: str, clock: str, minutes: int, net: float, count: int, length: int, level: float,
        usual: float | None, new_site: float | None, hour: float | None) -> None:
    text = alarm_words.low_raised(where, clock, minutes, net, count, length, level, usual, new_site, hour)
    assert text.startswith(f"customers at {where} ") and f"since about {clock}" in text and not jargon(text)
    assert minutes_said(text) == minutes and f"{net:+.2f} over {alarm_words.customers(count)}" in text
    assert f"{level:+.2f}" in text and (usual is None or f"usual {usual:+.2f}" in text)
    assert f"the last {length} minutes" in text


@given(places, clocks, st.integers(0, 600), counts, st.data())
def test_a_sequential_raise_and_clear_count_customers_that_add_up(where: str, clock: str, minutes: int,
                                                                     count: int, data: st.DataObject) -> None:
    unhappy = data.draw(st.integers(0, count))
    happy = data.draw(st.integers(0, count - unhappy))
    net = (happy - unhappy) / count
    up = alarm_words.drop_raised(where, clock, minutes, count, unhappy, happy, net, 0.2, 0.45)
    down = alarm_words.drop_cleared(where, clock, count, unhappy, happy, net, 0.25)
    for text in (up, down):
        assert f"of {alarm_words.customers(count)} since" in text and not jargon(text)
        assert f"{unhappy} ({unhappy / count:.0%}) looked unhappy and {happy} ({happy / count:.0%}) happy" in text
        assert f"net score {net:+.2f}, usually +0.25" in text
    assert "usually 20% look unhappy and 45% happy" in up and minutes_said(up) == minutes


@given(st.floats(0, 10_000, allow_nan=False))
def test_a_silence_says_the_minutes_the_alarm_carries(minutes: float) -> None:
    text = alarm_words.camera_silent("camera cam-2", round(minutes, 2), "14:40 CET")
    said = minutes_said(text) if round(minutes, 2) >= 10 else None
    assert said == round(round(minutes, 2)) if said is not None else f"{round(minutes, 2):.1f} minutes" in text


@given(st.sampled_from(["cafe-7", "a"]), st.one_of(st.none(), st.sampled_from(["door", "cam-2", "c"])),
       st.text(min_size=1, max_size=20).filter(str.strip), st.text(max_size=20))
def test_names_take_the_place_of_ids_in_a_reason_only_where_a_name_is_known(
        site: str, camera: str | None, site_name: str, camera_name: str) -> None:
    reason = alarm_words.quiet_resolved(alarm_words.place(site, camera), 30, "22:10 CET")
    name = camera_name if camera else site_name
    told = alarm_words.named(reason, site, camera, site_name, camera_name)
    if name and name != (camera or site):
        assert told == reason.replace(alarm_words.place(site, camera), name) and f"no customers at {name} " in told
    else:
        assert told == reason


def test_the_title_words_and_the_reasons_agree_on_what_happened() -> None:
    """A message's title (`HAPPENED`) and its reason say the same thing in the same words."""
    reasons: dict[tuple[str, str], Any] = {
        ("low_sentiment", "ALARM"): alarm_words.low_raised("camera c", "14:00 UTC", 30, -0.5, 20, 15, -0.2),
        ("low_sentiment", "OK"): alarm_words.low_cleared("camera c", 0.1, 20, 15, 0.0),
        ("sentiment_drop", "ALARM"): alarm_words.drop_raised("camera c", "14:00 UTC", 30, 20, 10, 2, -0.4, 0.2, 0.4),
        ("sentiment_drop", "OK"): alarm_words.drop_cleared("camera c", "14:00 UTC", 40, 10, 12, 0.05, 0.2)}
    agree = {("low_sentiment", "ALARM"): "unhappy", ("low_sentiment", "OK"): "fine again",
             ("sentiment_drop", "ALARM"): "less happy than usual for this hour",
             ("sentiment_drop", "OK"): "usual"}
    for key, reason in reasons.items():
        assert agree[key] in alarm_words.HAPPENED[key] and agree[key] in reason


@given(places, clocks, nets, st.integers(0, 5000), st.sampled_from([5, 15, 60]), st.integers(0, 3), st.booleans())
def test_a_window_readers_get_hidden_is_said_not_shown_instead_of_its_score(
        where: str, clock: str, net: float, count: int, length: int, kind: int, complement: bool) -> None:
    """Each reason that tells its latest window's score (`stream.published` hides such a window) reads it back,
    and without it says why the window is not shown, what happened, where and since when as before."""
    reason = [alarm_words.low_raised(where, clock, 40, net, count, length, -0.2, 0.1),
              alarm_words.low_cleared(where, net, count, length, 0.0),
              alarm_words.drop_window_raised(where, clock, 40, net, count, length, -0.3, 0.2, 21),
              alarm_words.drop_window_cleared(where, net, count, length, -0.1, 0.2)][kind]
    assert alarm_words.latest_score(reason, length) == (float(f"{net:.2f}"), count)
    hidden = alarm_words.latest_not_shown(reason, length, count, complement)
    assert hidden is not None and alarm_words.latest_score(hidden, length) is None and not jargon(hidden)
    head = reason.rsplit(f"; the last {length} minutes: ", 1)[0]
    said = hidden.removeprefix(head)
    assert said != hidden and f"{net:+.2f}" not in said and "." not in said
    assert ("score not shown" in said and "too few customers" in said) if complement else \
        ("too few customers to show a score" in said if count else said.endswith("no customers"))
    assert alarm_words.latest_not_shown(hidden, length, count, complement) is None  # nothing left to hide


def test_reasons_that_tell_no_latest_window_are_not_rewritten() -> None:
    for reason in (alarm_words.drop_raised("camera c", "14:00 UTC", 30, 20, 10, 2, -0.4, 0.2, 0.4),
                   alarm_words.drop_cleared("camera c", "14:00 UTC", 40, 10, 12, 0.05, 0.2),
                   alarm_words.quiet_resolved("camera c", 30, "14:00 UTC"),
                   alarm_words.camera_silent("camera c", 12.0, "14:00 UTC"),
                   alarm_words.low_raised("camera c", "14:00 UTC", 30, -0.5, 20, 5, -0.2)):  # a 5-minute window's
        assert alarm_words.latest_score(reason, 15) is None
        assert alarm_words.latest_not_shown(reason, 15, 20, True) is None
