"""Alarms over the engine's ticks: a state machine per (rule, site, camera) with hysteresis.

Rules (all in event time, evaluated at each closed minute boundary, in tick order, so the alarms
are as deterministic as the windows):

``low_sentiment``  On windows of ``window_minutes`` (default 15) with at least ``min_tracks`` tracks:
                   a window is *bad* when its net score is below ``low_raise`` **and** below the OK
                   level ``low_clear`` by at least ``z_raise`` standard errors (the sampling error of a
                   net score from this window's customer count: with 6 customers one sour face moves
                   the score by 0.3, with 60 by 0.03, so the same dip is noise in one and evidence in
                   the other); *good* when net score >= ``low_clear`` (> low_raise: the dead band
                   between them is the hysteresis). ALARM when ``raise_m`` of the last ``raise_n``
                   windows are bad; back to OK (recovery) when ``clear_m`` of the last ``raise_n``
                   are good and the hold has passed. The N windows are one window length apart
                   (``disjoint_windows``: judged every minute, the windows ending now, 15 and 30
                   minutes ago): consecutive minute windows share 14 of their 15 minutes, so "3 of 5"
                   of them was one window's evidence counted three times. Windows with insufficient
                   data count as neither. Per site, and per camera (``cameras``). With
                   ``low_against_usual`` a low window counts only where it is also low for this site
                   at this hour (`stream.usual`: its usual band; a new site only below ``low_new_site``).
``sentiment_drop`` Customers unhappier than this site usually is at this hour (`stream.baseline`:
                   non-overlapping samples, ready after ``baseline_min_days`` distinct days, medians of
                   the latest ``baseline_keep_days``). ``drop_detection``:
                   ``"sequential"`` (default) a CUSUM over the customers whose visits ended, minute
                   by minute, per site (its cameras pooled) and per camera (`stream.alarm_sequential`).
                   ``"windows"``: site windows against the hour of the week: spread σ = √(sd² + se²)
                   (the days' robust spread plus this window's sampling error); bad when net < median
                   − max(``drop_sigmas``·σ, ``drop_min``); good when net >= median −
                   max(``drop_clear_sigmas``·σ, ``drop_min``/2); same M-of-N and hold.
``camera_silent``  A camera that has sent heartbeats and sent none for more than ``silent_minutes``
                   (`stream.alarm_idle`).

The hold. A raised sentiment alarm stays raised at least ``hold_minutes`` (15) after its raise,
whatever the evidence. The window rules restart their evidence at each state change, so with
``clear_m`` 2 windows one window length apart their earliest clear is already (clear_m − 1) ×
window + 1 = 16 minutes after the raise and the hold binds only with ``clear_m`` 1 or consecutive
windows; it binds for the sequential rule, whose recovery evidence can pile up within minutes at a
busy time: a sharp spell is reported for at least ``hold_minutes``, so a manager told of it is not
told "all clear" before anyone could act.

One spell, one message. ``low_sentiment`` and ``sentiment_drop`` at a site (cameras pooled) often see
the same sour spell; a manager wants to be told once. While one of them is raised at a site the other
raises no site alarm there: its evidence in the meantime is the spell already told (the raised alarm
says what it saw). When the raised one clears, the other starts its evidence afresh (the drop rule's
CUSUM from zero, the window rule's M of N from no windows), so a room still bad, or a new spell, is
told again on evidence of its own, and a spell told once is not told a second time by the other rule
as it ends. Per-camera alarms are not affected.

Quiet resolves: a raised sentiment alarm whose key has had no customers for ``quiet_minutes`` goes back
to OK (`stream.alarm_idle`).

What each alarm says: `stream.alarm_words`.

``LEGACY`` (0 for ``z_raise``, ``hold_minutes`` and ``quiet_minutes``, ``drop_sampling_noise`` and
``disjoint_windows`` off, 3 of 5 / 4 of 5, ``drop_sigmas`` 2, the window drop rule) is the rules as
they were before the evidence rules, kept for the benchmark's before/after (``benchmarks/alarm_behaviour.py``;
ADR alarms-0001). ``WINDOWS`` is the default rules with the window drop rule instead of the sequential one.

Each state change is one sentiment_alarm event (id derived from rule, key, state and time).

Ticks marked ``flush`` (``WindowEngine.flush`` moving event time past the end of the input to close
every window) are judged by no rule: they only record their heartbeats. Their windows describe
minutes nobody has seen yet, and their silence is the end of the file, not a dead camera, so an
alarm there would be one only the flush caused; nor do they clear an alarm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from schemas.types import SentimentAlarm, SentimentWindow
from stream import alarm_idle, alarm_sequential, alarm_state, alarm_words
from stream.alarm_config import LEGACY, WINDOWS, AlarmConfig, check_alarms_fit_windows, default_alarm_window
from stream.alarm_machine import Machine, Rule, State, alarm_event, step
from stream.alarm_state import ALARM_STATE_VERSION, baseline_levels, baseline_zone
from stream.baseline import DAY_MS, DayBaseline, Reference
from stream.engine import Tick
from stream.sequential import Cusum
from stream.usual import day_level, unusually_low, usual_level, weekday_seen
from stream.window_evidence import UTC, SiteClock, baseline_keys, hour_of_week, net_score_error, window_votes

__all__ = ["ALARM_STATE_VERSION", "LEGACY", "WINDOWS", "AlarmConfig", "AlarmEngine", "baseline_levels", "baseline_zone",
           "check_alarms_fit_windows", "default_alarm_window", "hour_of_week", "net_score_error"]

Words = Callable[[State, int], str]  # (the state changed to, at a raise the spell's start) -> the reason


class AlarmEngine:
    """``zones``: site -> IANA zone whose local hours and days its baselines learn (a site left out: UTC)."""

    def __init__(self, config: AlarmConfig | None = None, zones: Mapping[str, str] | None = None) -> None:
        self.config = config or AlarmConfig()
        self.zones = dict(zones or {})
        self._clocks: dict[str, SiteClock] = {}  # made on a site's first use; a bad zone is refused here
        for zone in sorted(set(self.zones.values())):
            SiteClock(zone)
        self._machines: dict[tuple[str, str, str], Machine] = {}
        # (site, "w<hour of week>" | "d<hour of day>") -> the usual mood then (`stream.baseline`), local hours
        self._baselines: dict[tuple[str, str], DayBaseline] = {}
        self._last_beat: dict[tuple[str, str], int] = {}
        self._data: dict[tuple[str, str], int] = {}  # (site, camera|"") -> end of its last window with data
        self._cusums: dict[tuple[str, str], Cusum] = {}  # (site, camera|"") -> sequential drop evidence
        self._dispersions: dict[str, tuple[int, float]] = {}  # site -> (minute, dispersion): from the baselines
        self._traffic: dict[str, list[list[int]]] = {}  # site -> [[local day, customers]], the latest days
        # The per-tick checks skip ticks where no key can change (`stream.alarm_idle`): a quiet resolve is due
        # no earlier than _quiet_due, a camera silent no earlier than after _silence_due; -inf: check at the
        # next tick.
        self._quiet_due = -math.inf
        self._silence_due = -math.inf
        self._checked_ms = -math.inf  # the latest tick checked: an earlier one (time going back) checks all
        self._usual_memo: dict[tuple[str, int, bool], Reference | None] = {}  # this tick's `_usual` results
        self._seen_memo: dict[str, tuple[int, bool]] = {}  # site -> (day, `stream.usual.weekday_seen` that day)

    def process(self, ticks: Iterable[Tick]) -> list[SentimentAlarm]:
        alarms: list[SentimentAlarm] = []
        for tick in ticks:
            for site, camera, beat in tick.heartbeats:
                key = (site, camera)
                last = self._last_beat.get(key)
                if last is None or beat > last:
                    self._last_beat[key] = beat
                    alarm_idle.beat_moved(self, site, camera, beat)
            if tick.flush:  # time the flush made up: nothing to judge (module docstring)
                continue
            now = tick.end_ms
            self._usual_memo.clear()
            changes = len(alarms)
            for window in tick.windows:
                if window["window_minutes"] == self.config.window_minutes:
                    self._on_window(window, alarms)
            if tick.customers and self.config.drop_detection == "sequential":
                alarm_sequential.on_customers(self, now, tick.customers, alarms)
            if len(alarms) != changes or now < self._checked_ms:  # an alarm raised may turn quiet
                self._quiet_due = -math.inf
                self._silence_due = -math.inf if now < self._checked_ms else self._silence_due
            self._checked_ms = now
            alarm_idle.check_quiet(self, now, alarms)
            alarm_idle.check_silence(self, now, alarms)
        return alarms

    # ---------------------------------------------------------------- window rules

    def _on_window(self, window: SentimentWindow, alarms: list[SentimentAlarm]) -> None:
        c = self.config
        site, camera = window["site_id"], window["camera_id"]
        net = window["net_score"]
        enough = net is not None and window["tracks"] >= c.min_tracks
        end = window["window_end_ms"]
        if enough:
            self._data[(site, camera or "")] = end
        if camera is None or c.cameras:
            verdict, usual, new_site, hour = "-", None, None, None
            if net is not None and enough:
                strong = c.low_clear - net >= c.z_raise * net_score_error(window, c.low_clear)
                usual = self._usual(site, end, provisional=True) if c.low_against_usual else None
                bad, good = net < c.low_raise and strong, net >= c.low_clear
                if usual is None and c.low_against_usual:  # nothing learnt here yet: only the clearly bad
                    new_site = min(c.low_new_site, c.low_raise)
                    bad = bad and new_site - net >= c.z_raise * net_score_error(window, new_site)
                    local = self._local_end(site, end)
                    hour = day_level(self._baselines.get((site, baseline_keys(local)[1])), c.baseline_min_days,
                                     local, True)
                    if bad and hour is not None:  # a new weekday: what the hour of the day taught still counts
                        bad = unusually_low(net, net_score_error(window, hour.net), hour, c.drop_sigmas, c.drop_min)
                if usual is not None and usual.net < c.low_clear:
                    error = net_score_error(window, usual.net)
                    bad = bad and unusually_low(net, error, usual, c.drop_sigmas, c.drop_min)
                    good = good or net >= usual.net
                verdict = "B" if bad else "G" if good else "M"
            self._step("low_sentiment", site, camera, verdict, end, net, c.low_raise, c.low_clear,
                       self._low_words(window, usual, new_site, hour), alarms)
        if camera is not None or net is None or not enough:
            return
        if c.drop_detection == "windows":
            reference = self._reference(site, end)
            if reference is not None:
                self._drop_window(window, net, reference, alarms)
        if end % (c.window_minutes * 60_000) == 0:  # one sample per window length: samples never overlap
            positive, negative, n = window_votes(window)
            local = self._local_end(site, end)
            for key in baseline_keys(local):
                self._baselines.setdefault((site, key), DayBaseline()).add(local, positive, negative, n,
                                                                           c.baseline_keep_days)
            self._usual_memo.clear()

    def _low_words(self, window: SentimentWindow, usual: Reference | None, new_site: float | None,
                   hour: Reference | None) -> Words:
        """What a ``low_sentiment`` change of this window says (`stream.alarm_words`), worded only when told."""
        c = self.config
        site, end, net = window["site_id"], window["window_end_ms"], window["net_score"] or 0.0
        where = alarm_words.place(site, window["camera_id"])

        def words(state: State, since: int) -> str:
            if state == "OK":
                return alarm_words.low_cleared(where, net, window["tracks"], c.window_minutes, c.low_clear,
                                               None if usual is None else usual.net)
            return alarm_words.low_raised(where, self._clock(site, since), (end - since) / 60_000, net,
                                          window["tracks"], c.window_minutes, c.low_raise,
                                          None if usual is None else usual.net, new_site,
                                          None if hour is None else hour.net)
        return words

    def _reference(self, site: str, time_ms: int) -> Reference | None:
        """The usual mood of ``site`` at this hour of the week (the window drop rule: weeks to learn)."""
        baseline = self._baselines.get((site, baseline_keys(self._local_end(site, time_ms))[0]))
        return baseline.reference(self.config.baseline_min_days) if baseline else None

    def _usual(self, site: str, time_ms: int, provisional: bool) -> Reference | None:
        """The usual mood of ``site`` at this hour of the day, lowered where this hour of the week has been
        worse (`stream.usual.usual_level`); ``provisional`` (``low_sentiment``): from two earlier days on.
        Remembered for the tick (every window and camera of a site asks for the same one) until a baseline
        takes a sample."""
        memo = (site, time_ms, provisional)
        if memo in self._usual_memo:
            return self._usual_memo[memo]
        local = self._local_end(site, time_ms)
        week, day_key = baseline_keys(local)
        today = (local - 1) // DAY_MS
        day, seen = self._seen_memo.get(site, (None, False))
        if day != today:  # the same all day: a sample taken today is not an earlier day
            weekday = hour_of_week(local - 1) // 24 * 24
            seen = weekday_seen((self._baselines.get((site, f"w{weekday + h}")) for h in range(24)), local)
            self._seen_memo[site] = (today, seen)
        usual = self._usual_memo[memo] = usual_level(
            self._baselines.get((site, day_key)), self._baselines.get((site, week)), self.config.baseline_min_days,
            local, provisional, seen)
        return usual

    def _drop_window(self, window: SentimentWindow, net: float, reference: Reference,
                     alarms: list[SentimentAlarm]) -> None:
        c = self.config
        mean = reference.net
        error = net_score_error(window, mean)
        sd = math.hypot(reference.spread, error) if c.drop_sampling_noise else max(reference.spread, error)
        raise_at = mean - max(c.drop_sigmas * sd, c.drop_min)
        clear_at = mean - max(c.drop_clear_sigmas * sd, c.drop_min / 2)
        verdict = "B" if net < raise_at else "G" if net >= clear_at else "M"
        raise_at, clear_at = round(raise_at, 6), round(clear_at, 6)  # as the alarm carries and says them
        site, end, where = window["site_id"], window["window_end_ms"], alarm_words.place(window["site_id"], None)

        def words(state: State, since: int) -> str:
            if state == "OK":
                return alarm_words.drop_window_cleared(where, net, window["tracks"], c.window_minutes, clear_at, mean)
            return alarm_words.drop_window_raised(where, self._clock(site, since), (end - since) / 60_000, net,
                                                  window["tracks"], c.window_minutes, raise_at, mean, reference.days)
        self._step("sentiment_drop", site, None, verdict, end, net, raise_at, clear_at, words, alarms)

    def _step(self, rule: Rule, site: str, camera: str | None, verdict: str, time_ms: int,
              value: float | None, raise_at: float, clear_at: float, words: Words,
              alarms: list[SentimentAlarm]) -> None:
        machine = self._machines.setdefault((rule, site, camera or ""), Machine())
        changed = step(machine, self.config, verdict, time_ms)
        if changed == "ALARM" and camera is None and self._other_raised(rule, site):
            machine.state, machine.raised_ms = "OK", None  # the spell is already told (module docstring)
            return
        if changed == "OK" and camera is None:
            self._site_cleared(rule, site)
        if changed is not None:
            alarms.append(alarm_event(rule, site, camera, changed, time_ms, value,
                                      raise_at if changed == "ALARM" else clear_at,
                                      words(changed, time_ms if machine.spell_ms is None else machine.spell_ms)))

    # ---------------------------------------------------------------- one spell, one message

    def _other_raised(self, rule: Rule, site: str) -> bool:
        """Whether the other site-level sentiment rule is raised at ``site``: one spell, one message."""
        other = "sentiment_drop" if rule == "low_sentiment" else "low_sentiment"
        machine = self._machines.get((other, site, ""))
        return machine is not None and machine.state == "ALARM"

    def _site_cleared(self, rule: str, site: str) -> None:
        """A site-level sentiment alarm went back to OK: the other rule's evidence gathered while it was
        raised belonged to the spell it told, so the other starts afresh (no second message for that spell)."""
        if rule == "low_sentiment":
            self._cusums.pop((site, ""), None)
        elif rule == "sentiment_drop":
            machine = self._machines.get(("low_sentiment", site, ""))
            if machine is not None and machine.state == "OK":
                machine.history = ""

    # ---------------------------------------------------------------- the site's clock

    def _clock_of(self, site: str) -> SiteClock:
        clock = self._clocks.get(site)
        if clock is None:
            clock = self._clocks[site] = SiteClock(self.zones.get(site, UTC))
        return clock

    def _clock(self, site: str, time_ms: int) -> str:
        """The time of day an alarm reason says: the site's clock and zone ("14:46 CET")."""
        return self._clock_of(site).clock(time_ms)

    def _local_end(self, site: str, end_ms: int) -> int:
        """The local instant (`stream.window_evidence`) at which a window or minute ending at ``end_ms`` ends:
        its last millisecond's reading, so a window ending as the clocks go back stays in its hour."""
        return self._clock_of(site).local_ms(end_ms - 1) + 1

    # ---------------------------------------------------------------- state

    def state_of(self, rule: Rule, site: str, camera: str | None = None) -> str:
        machine = self._machines.get((rule, site, camera or ""))
        return machine.state if machine else "OK"

    def snapshot(self) -> dict[str, Any]:
        return alarm_state.snapshot(self)

    @classmethod
    def restore(cls, state: Mapping[str, Any], config: AlarmConfig | None = None,
                zones: Mapping[str, str] | None = None) -> AlarmEngine:
        """An engine from ``snapshot``'s state of this or an earlier version (`stream.alarm_state.restore`:
        what each version kept and how it moves on). ``config``: the settings to judge with from now on
        (None: the stored ones); ``zones``: the sites' zones from now on (None: the stored ones)."""
        return alarm_state.restore(cls, state, config, zones)
