"""An outage keeps its data: a site whose uplink drops is reported in wall-clock time, and the events
its spools deliver afterwards land in their windows, not in late (follow mode, the CLI's defaults)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from locallog import LocalLog
from moodlens.cli import build_parser
from moodlens.commands.stream_host import host_config
from stream.embedded import ALARMS, WINDOWS, EmbeddedRunner
from stream.host.outage import OutageWatch, Reachability
from stream.host.sites import Applied, Sites, SiteState, StateError
from stream.jsonl import dumps, iter_jsonl
from tests.stream.alarm_reasons import jargon, minutes_said, since
from tests.stream.helpers import beat, face
from tests.stream.host.test_sites import ALARMS as ALARM_CONFIG
from tests.stream.host.test_sites import ENGINE, quiet_site

START = 1_796_000_000_000 // 60_000 * 60_000  # a minute boundary in 2026: the time checks stay on
SITES = ("north", "south", "east")
MINUTES = 40
STEP_S = 5
OUTAGE = (15 * 60, 25 * 60)  # south's uplink is down from minute 15 to minute 25
DRAIN_SPEED = 40  # the spooled ten minutes arrive in 15 s


def site_events(site: str) -> list[tuple[int, bytes]]:
    """(event time in s from START, record): a face every 5 s per camera, a heartbeat every 30 s."""
    rng = random.Random(site)
    out = []
    for second in range(0, MINUTES * 60, STEP_S):
        t = START + second * 1000 + rng.randrange(1000)
        for camera in ("door", "till"):
            top = rng.choice(["happy", "neutral", "sad"])
            out.append((second, dumps(face(t, f"{camera}-{second // 60}-{rng.randrange(6)}", camera=camera,
                                           site=site, top=top, n=second))))
            if second % 30 == 0:
                out.append((second, dumps(beat(t, camera, site, second))))
    return out


def follow(tmp_path: Path, outage: bool) -> tuple[EmbeddedRunner, list[dict[str, Any]]]:
    """Runs the host in follow mode on a fake wall clock that is the sites' own clock (live cameras)."""
    args = build_parser().parse_args(["stream", "run", "--log", str(tmp_path / "log"), "--state",
                                      str(tmp_path / "state")])
    config = host_config(args)
    now = [START / 1000]
    log = LocalLog(tmp_path / "log")
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", config, clock=lambda: now[0])
    events = {site: site_events(site) for site in SITES}
    spooled: list[tuple[int, bytes]] = []  # south's edges publish through their spools, oldest first
    cursor = OUTAGE[0]  # how far (in event seconds) the spools have drained
    for second in range(0, MINUTES * 60 + 120):  # less than unreachable-minutes after the end
        now[0] = START / 1000 + second
        batch: list[bytes] = []
        for site in SITES:
            due = [(s, r) for s, r in events[site] if s == second]
            if outage and site == "south" and (OUTAGE[0] <= second < OUTAGE[1] or spooled):
                spooled += due
            else:
                batch += [r for _, r in due]
        if outage and second >= OUTAGE[1] and spooled:
            cursor += DRAIN_SPEED
            batch += [r for s, r in spooled if s < cursor]
            spooled = [(s, r) for s, r in spooled if s >= cursor]
        if batch:
            log.append(batch)
        runner.step()
    runner.drain(flush=True)
    return runner, list(iter_jsonl(tmp_path / "state" / ALARMS))


def windows(tmp_path: Path) -> list[str]:
    return sorted(json.dumps(w, sort_keys=True) for w in iter_jsonl(tmp_path / "state" / WINDOWS))


def test_a_ten_minute_outage_loses_nothing_and_is_reported_once(tmp_path: Path) -> None:
    clean, clean_alarms = follow(tmp_path / "clean", outage=False)
    broken, broken_alarms = follow(tmp_path / "outage", outage=True)
    assert clean.counters["late"] == 0
    assert broken.counters["late"] == 0
    assert windows(tmp_path / "outage") == windows(tmp_path / "clean")
    assert broken.counters["windows"] > 0
    outages = [a for a in broken_alarms if a["rule"] == "site_unreachable"]
    assert [(a["site_id"], a["state"]) for a in outages] == [("south", "ALARM"), ("south", "OK")]
    raised, cleared = outages
    silent_since = START + (OUTAGE[0] - STEP_S) * 1000  # south's last delivery before the outage
    assert 5 * 60_000 <= raised["event_time_ms"] - silent_since <= 5 * 60_000 + 2_000  # checked every second
    assert cleared["event_time_ms"] == START + OUTAGE[1] * 1000
    after_s = (raised["event_time_ms"] - silent_since) / 1000
    print(f"outage: {broken.counters['late']} late, site_unreachable {after_s:.0f} s after the last event")
    others = [a for a in broken_alarms if a["rule"] != "site_unreachable"]
    assert others == [a for a in clean_alarms if a["rule"] != "site_unreachable"]
    assert not [a for a in clean_alarms if a["rule"] == "site_unreachable"]


def test_a_site_never_heard_from_raises_nothing_and_one_heard_from_raises_once() -> None:
    watch = OutageWatch(5)
    assert watch.check({}, 1000.0) == []
    reach = Reachability(last_input_s=1000.0)
    assert watch.check({"a": reach}, 1000.0 + 299) == []
    raised = watch.check({"a": reach}, 1000.0 + 300)
    assert [(a["site_id"], a["state"], a["value"]) for a in raised] == [("a", "ALARM", 5.0)]
    assert watch.check({"a": reach}, 1000.0 + 900) == []  # raised once, however long it lasts
    back = watch.heard("a", reach, 1000.0 + 960)
    assert back is not None and back["state"] == "OK" and minutes_said(back["reason"]) == 16
    assert watch.heard("a", reach, 1961.0) is None


def test_an_outage_is_told_in_plain_words_on_the_sites_clock() -> None:
    """The reason names the site, says since when on its own clock and for how long, without jargon."""
    watch = OutageWatch(5, {"berlin": "Europe/Berlin"})
    last = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC
    reaches = {"berlin": Reachability(last_input_s=last), "london": Reachability(last_input_s=last)}
    raised = {a["site_id"]: a["reason"] for a in watch.check(reaches, last + 12 * 60)}
    local = dt.datetime.fromtimestamp(last, dt.UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert since(raised["berlin"], "CET") == local.hour * 60 + local.minute
    utc = dt.datetime.fromtimestamp(last, dt.UTC)
    assert since(raised["london"], "UTC") == utc.hour * 60 + utc.minute
    for site, reason in raised.items():
        assert f"site {site} " in reason and minutes_said(reason) == 12 and jargon(reason) == []
    back = watch.heard("berlin", reaches["berlin"], last + 75 * 60)
    assert back is not None and "site berlin " in back["reason"] and minutes_said(back["reason"]) == 75
    assert jargon(back["reason"]) == []


def test_outage_minutes_must_be_positive() -> None:
    try:
        OutageWatch(0)
    except ValueError as error:
        assert "positive" in str(error)
    else:
        raise AssertionError("0 minutes accepted")


def test_a_silent_sites_last_windows_close_after_the_idle_advance_and_not_before(tmp_path: Path) -> None:
    """The bound: with the default idle advance (one hour) a site silent for 59 minutes still waits for
    its spools; after 61 minutes its last windows have closed."""
    args = build_parser().parse_args(["stream", "run", "--log", str(tmp_path / "log"), "--state",
                                      str(tmp_path / "state")])
    config = host_config(args)
    assert config.idle_advance_ms == 3_600_000
    last = START + 600_000
    now = [last / 1000]  # delivered as they happened: the clock is at the last event
    log = LocalLog(tmp_path / "log")
    log.append([r for s, r in site_events("north") if s < 600])
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "state", config, clock=lambda: now[0])
    runner.drain()
    before = len(windows(tmp_path))
    now[0] = last / 1000 + 59 * 60
    runner.step()
    assert len(windows(tmp_path)) == before
    now[0] = last / 1000 + 61 * 60
    runner.step()
    ends = [json.loads(w)["window_end_ms"] for w in windows(tmp_path)]
    assert len(ends) > before and max(ends) >= last
    runner.close()


def test_a_saved_reachability_that_is_not_times_is_refused_naming_the_field_and_the_state() -> None:
    sites = Sites(ENGINE, ALARM_CONFIG, clock=lambda: 1000.0)
    sites.apply([Applied(quiet_site()[0], "p", 0)])
    good = sites.snapshot()["quiet"]
    assert good["reachability"] == {"last_input_s": 1000.0, "unreachable_since_s": None}
    assert SiteState.restore(good, "x").reach == Reachability(1000.0, None)
    for bad, why in (({"last_input_s": "noon", "unreachable_since_s": None}, "last_input_s 'noon'"),
                     ({"last_input_s": 1.0, "unreachable_since_s": float("nan")}, "unreachable_since_s nan"),
                     ({"last_input_s": 1.0}, "KeyError: 'unreachable_since_s'"), (None, "KeyError: 'reachability'")):
        state = {**good, "reachability": bad} if bad is not None else {k: v for k, v in good.items()
                                                                         if k != "reachability"}
        try:
            SiteState.restore(state, "s3://b/sites/quiet.json")
        except StateError as error:
            assert "s3://b/sites/quiet.json" in str(error) and why in str(error), error
        else:
            raise AssertionError(f"accepted {bad!r}")
