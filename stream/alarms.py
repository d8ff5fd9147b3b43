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
                   by minute (`stream.sequential`), per site (its cameras pooled) and per camera,
                   against the hour of the day; threshold from ``false_alarms_per_month``; the alarm
                   says since when (the change-point estimate) and how strong the evidence is; clears
                   at ``recovery_odds`` of evidence for the usual mood.
                   ``"windows"``: site windows against the hour of the week: spread σ = √(sd² + se²)
                   (the days' robust spread plus this window's sampling error); bad when net < median
                   − max(``drop_sigmas``·σ, ``drop_min``); good when net >= median −
                   max(``drop_clear_sigmas``·σ, ``drop_min``/2); same M-of-N and hold.
``camera_silent``  A camera that has sent heartbeats and sent none for more than ``silent_minutes``:
                   ALARM; OK again with its next heartbeat. Cameras never heard of raise nothing.

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

Quiet resolves. A raised low_sentiment or sentiment_drop alarm whose key (site or camera) has had
no window with enough customers, and (sequential rule) no customer, for ``quiet_minutes`` (default
30) goes back to OK with the reason "no customers for N minutes (site closed or quiet)": nobody is
there to be unhappy, and an alarm left raised through a closed night is noise the next morning.
Whether the drop rule could judge those windows (its baseline may not be ready for the hour) does
not matter: a site with customers is not quiet. A new bad spell raises a new alarm.

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
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.types import SentimentAlarm, SentimentWindow
from stream import alarm_state, sequential
from stream.alarm_config import LEGACY, WINDOWS, AlarmConfig, check_alarms_fit_windows, default_alarm_window
from stream.alarm_machine import Machine, Rule, alarm_event, step
from stream.alarm_state import ALARM_STATE_VERSION, baseline_levels, baseline_zone
from stream.baseline import DAY_MS, DayBaseline, Reference, dispersion
from stream.engine import Tick
from stream.sequential import Cusum
from stream.usual import day_level, unusually_low, usual_level, weekday_seen
from stream.window_evidence import UTC, SiteClock, baseline_keys, hour_of_week, net_score_error, window_votes

__all__ = ["ALARM_STATE_VERSION", "LEGACY", "WINDOWS", "AlarmConfig", "AlarmEngine", "baseline_levels", "baseline_zone",
           "check_alarms_fit_windows", "default_alarm_window", "hour_of_week", "net_score_error"]


# 2: machines carry raised_ms and data_ms; 3: day baselines, sequential evidence; 4: baselines and traffic
# days in each site's local hours and days, with the zone they were kept in

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
        # The per-tick checks skip ticks where no key can change (a plain check of every key would find
        # nothing): a quiet resolve is due no earlier than _quiet_due, a camera silent no earlier than after
        # _silence_due; -inf: check at the next tick. Lower bounds: a later customer or heartbeat only
        # delays the real moment, which the next full check finds.
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
                    self._beat_moved(site, camera, beat)
            if tick.flush:  # time the flush made up: nothing to judge (module docstring)
                continue
            now = tick.end_ms
            self._usual_memo.clear()
            changes = len(alarms)
            for window in tick.windows:
                if window["window_minutes"] == self.config.window_minutes:
                    self._on_window(window, alarms)
            if tick.customers and self.config.drop_detection == "sequential":
                self._on_customers(now, tick.customers, alarms)
            if len(alarms) != changes or now < self._checked_ms:  # an alarm raised may turn quiet
                self._quiet_due = -math.inf
                self._silence_due = -math.inf if now < self._checked_ms else self._silence_due
            self._checked_ms = now
            self._check_quiet(now, alarms)
            self._check_silence(now, alarms)
        return alarms

    # ---------------------------------------------------------------- rules

    def _on_window(self, window: SentimentWindow, alarms: list[SentimentAlarm]) -> None:
        c = self.config
        site, camera = window["site_id"], window["camera_id"]
        net = window["net_score"]
        enough = net is not None and window["tracks"] >= c.min_tracks
        end = window["window_end_ms"]
        if enough:
            self._data[(site, camera or "")] = end
        if camera is None or c.cameras:
            verdict, usual, raise_text = "-", None, ""
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
                    raise_text = (f"net score {c.z_raise:g} standard errors below {new_site:g} in {c.raise_m} of "
                                  f"{c.raise_n} {c.window_minutes}-minute windows (nothing learnt of this site at "
                                  f"this hour{'' if hour is None else ' on this weekday'} yet: only a clearly bad "
                                  f"level counts" + ("" if hour is None else f", below its usual {hour.net:+.2f} "
                                                     f"at this hour of the day") + ")")
                if usual is not None and usual.net < c.low_clear:
                    error = net_score_error(window, usual.net)
                    bad = bad and unusually_low(net, error, usual, c.drop_sigmas, c.drop_min)
                    good = good or net >= usual.net
                verdict = "B" if bad else "G" if good else "M"
            self._step("low_sentiment", site, camera, verdict, end, net,
                       c.low_raise, c.low_clear,
                       raise_text or f"net score below {c.low_raise:g} (and {c.z_raise:g} standard errors below "
                       f"{c.low_clear:g}) in {c.raise_m} of {c.raise_n} {c.window_minutes}-minute windows"
                       + ("" if usual is None else f", and below this site's usual {usual.net:+.2f} at this hour"),
                       f"net score at or above {c.low_clear:g}"
                       + ("" if usual is None else f" or this site's usual {usual.net:+.2f}")
                       + f" in {c.clear_m} of {c.raise_n} windows",
                       alarms)
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
        self._step("sentiment_drop", window["site_id"], None, verdict, window["window_end_ms"], net,
                   round(raise_at, 6), round(clear_at, 6),
                   f"net score {net:+.2f} below this hour's baseline {mean:+.2f} "
                   f"({reference.days} days) in {c.raise_m} of {c.raise_n} windows",
                   f"net score back near this hour's baseline {mean:+.2f}", alarms)

    def _on_customers(self, now: int, customers: list[tuple[str, str, int, int, int]],
                      alarms: list[SentimentAlarm]) -> None:
        """The sequential drop rule: the minute's customers, per site (its cameras pooled) and per camera."""
        c = self.config
        per_site: dict[str, list[int]] = {}
        for site, camera, positive, negative, n in customers:
            total = per_site.setdefault(site, [0, 0, 0])
            total[0] += positive
            total[1] += negative
            total[2] += n
            if c.cameras:
                self._sequential(site, camera, now, positive, negative, n, alarms)
        for site, (positive, negative, n) in per_site.items():
            self._count_traffic(site, now, n)
            self._sequential(site, "", now, positive, negative, n, alarms)

    def _count_traffic(self, site: str, now: int, customers: int) -> None:
        days = self._traffic.setdefault(site, [])
        day = (self._local_end(site, now) - 1) // DAY_MS
        if days and days[-1][0] == day:
            days[-1][1] += customers
        else:
            days.append([day, customers])
            del days[:-(self.config.baseline_keep_days + 1)]

    def _threshold(self, site: str, happy: float, unhappy: float, reference: Reference) -> float:
        """h from the site's customers a day (the median of its latest complete days) and the stated rate."""
        full = [n for _, n in self._traffic.get(site, [])[:-1]] or [n for _, n in self._traffic.get(site, [])]
        return sequential.threshold(statistics.median(full) if full else 0.0, self.config.false_alarms_per_month,
                                    happy, unhappy, reference)

    def _dispersion(self, site: str, now: int) -> float:
        """The site's dispersion pooled over its hours of the day (`stream.baseline.dispersion`), once a minute."""
        cached = self._dispersions.get(site)
        if cached is None or cached[0] != now:
            hours = (self._baselines.get((site, f"d{hour}")) for hour in range(24))
            cached = self._dispersions[site] = (now, dispersion(
                b.pearson(self.config.baseline_min_days) for b in hours if b is not None))
        return cached[1]

    def _sequential(self, site: str, camera: str, now: int, positive: int, negative: int, n: int,
                    alarms: list[SentimentAlarm]) -> None:
        c = self.config
        reference = self._usual(site, now, provisional=False)
        if reference is None:
            return
        key = ("sentiment_drop", site, camera)
        machine = self._machines.get(key)
        raised = machine is not None and machine.state == "ALARM"
        state = self._cusums.setdefault((site, camera), Cusum())
        gap = c.quiet_minutes * 60_000
        if not raised and gap and state.last_ms is not None and now - state.last_ms >= gap:
            state = self._cusums[(site, camera)] = Cusum()  # a spell does not span a closed or empty spell
        usual = sequential.ordinary_worst(reference, c.drop_allowance, c.drop_min / 2)
        happy, unhappy = sequential.steps(usual, c.sour_share, self._dispersion(site, now))
        sequential.update(state, now, positive, negative, n, happy, unhappy, raised)
        if machine is not None and raised and n:
            machine.data_ms = now  # customers came: the key is not quiet
        where = f"camera {camera}" if camera else "the site (all cameras)"
        if not raised:
            if state.score < sequential.LEAST_THRESHOLD:  # below any h: no need to work h out
                return
            h = self._threshold(site, happy, unhappy, usual)
            if state.score < h or (not camera and self._other_raised("sentiment_drop", site)):
                return
            machine = self._machines[key] = Machine("ALARM", raised_ms=now, data_ms=now)
            alarms.append(alarm_event(
                "sentiment_drop", site, camera or None, "ALARM", now, self._net(state), round(reference.net, 6),
                f"customers at {where} look unhappier than usual at this hour since about "
                f"{self._clock(site, state.start_ms or now)}: "
                f"of {state.customers} customers since, {state.negative} looked unhappy and {state.positive} happy "
                f"(usually {reference.negative:.0%} and {reference.positive:.0%}); that is "
                f"{sequential.evidence_words(state.score)} if the room turned sour than if it is as usual "
                f"(raised from {sequential.evidence_words(h)}: at most {c.false_alarms_per_month:g} false alarm(s) "
                f"a month)"))
            state.recovery = 0.0
            return
        assert machine is not None
        held = machine.raised_ms is None or now - machine.raised_ms >= c.hold_minutes * 60_000
        if state.recovery >= math.log(c.recovery_odds) and held:
            began = state.start_ms or now
            machine.state, machine.history, machine.raised_ms = "OK", "", None
            alarms.append(alarm_event(
                "sentiment_drop", site, camera or None, "OK", now, self._net(state), round(reference.net, 6),
                f"customers at {where} look as usual again: of {state.customers} since {self._clock(site, began)}, "
                f"{state.negative} looked unhappy and {state.positive} happy; the latest are "
                f"{sequential.evidence_words(state.recovery)} as usual than sour"))
            self._cusums[(site, camera)] = Cusum()
            if not camera:
                self._site_cleared("sentiment_drop", site)

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

    @staticmethod
    def _net(state: Cusum) -> float | None:
        return round((state.positive - state.negative) / state.customers, 6) if state.customers else None

    def _check_quiet(self, now: int, alarms: list[SentimentAlarm]) -> None:
        """Raised sentiment alarms whose key (site or camera) has had no window with enough customers for
        quiet_minutes (whichever rule raised it: the drop rule's own verdicts, which need a baseline, do
        not decide whether anyone is there)."""
        limit = self.config.quiet_minutes * 60_000
        if not limit or now < self._quiet_due:
            return
        due = math.inf
        for (rule, site, camera), machine in sorted(self._machines.items()):
            if machine.state != "ALARM" or rule == "camera_silent":
                continue
            times = [t for t in (machine.data_ms, machine.raised_ms, self._data.get((site, camera))) if t is not None]
            if not times:  # restored from a version-1 state: the quiet spell counts from now
                machine.data_ms = now
                due = min(due, now + limit)
                continue
            since = max(times)
            if now - since < limit:
                due = min(due, since + limit)
                continue
            minutes = (now - since) // 60_000
            machine.state, machine.history, machine.raised_ms = "OK", "", None
            self._cusums.pop((site, camera), None)
            if not camera:
                self._site_cleared(rule, site)
            alarms.append(alarm_event(rule, site, camera or None, "OK", now, None, None,  # type: ignore[arg-type]
                                      f"no customers for {minutes} minutes (site closed or quiet): resolved"))
        self._quiet_due = due

    def _beat_moved(self, site: str, camera: str, beat: int) -> None:
        """A camera's latest heartbeat moved on: a silent one may be back at the next check; one that was
        not silent goes silent no earlier than ``silent_minutes`` after this beat."""
        machine = self._machines.get(("camera_silent", site, camera))
        if machine is not None and machine.state == "ALARM":
            self._silence_due = -math.inf
        else:
            self._silence_due = min(self._silence_due, beat + self.config.silent_minutes * 60_000)

    def _check_silence(self, now: int, alarms: list[SentimentAlarm]) -> None:
        limit = self.config.silent_minutes * 60_000
        if now <= self._silence_due:
            return
        due = math.inf
        for (site, camera), beat in sorted(self._last_beat.items()):
            silent = now - beat > limit
            if not silent:
                due = min(due, beat + limit)
            machine = self._machines.get(("camera_silent", site, camera))
            state = machine.state if machine else "OK"
            if silent == (state == "ALARM"):
                continue
            minutes = round((now - beat) / 60_000, 2)
            self._machines[("camera_silent", site, camera)] = Machine("ALARM" if silent else "OK")
            alarms.append(alarm_event(
                "camera_silent", site, camera, "ALARM" if silent else "OK", now, minutes,
                float(self.config.silent_minutes),
                f"no heartbeat for {minutes:g} minutes" if silent else "heartbeats resumed"))
        self._silence_due = due

    def _step(self, rule: Rule, site: str, camera: str | None, verdict: str, time_ms: int,
              value: float | None, raise_at: float, clear_at: float, raise_reason: str,
              clear_reason: str, alarms: list[SentimentAlarm]) -> None:
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
                                      raise_reason if changed == "ALARM" else clear_reason))

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
