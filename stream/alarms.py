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
                   are good and the alarm has been raised for ``hold_minutes`` (default: one window
                   length, so the windows that raised it have rolled out before it can clear). The
                   N windows are one window length apart (``disjoint_windows``: judged every minute,
                   the windows ending now, 15 and 30 minutes ago): consecutive minute windows share
                   14 of their 15 minutes, so "3 of 5" of them was one window's evidence counted
                   three times. Windows with insufficient data count as neither. Per site, and per
                   camera (``cameras``).
``sentiment_drop`` Site windows only, against the site's baseline for that hour of the week (UTC):
                   ``RunningStats`` of past net scores, mergeable. With at least ``baseline_min_samples``
                   the spread is σ = √(sd² + se²) (the baseline's spread plus this window's sampling
                   error: the baseline was learnt from busier or quieter windows than this one).
                   Bad when net < mean − max(``drop_sigmas``·σ, ``drop_min``); good when
                   net >= mean − max(``drop_clear_sigmas``·σ, ``drop_min``/2). Same M-of-N and hold.
                   Every sufficient window not judged bad then joins its baseline.
``camera_silent``  A camera that has sent heartbeats and sent none for more than ``silent_minutes``:
                   ALARM; OK again with its next heartbeat. Cameras never heard of raise nothing.

Quiet resolves. A raised low_sentiment or sentiment_drop alarm whose key has had no window with
enough customers for ``quiet_minutes`` (default 30) goes back to OK with the reason "no customers
for N minutes (site closed or quiet)": nobody is there to be unhappy, and an alarm left raised
through a closed night is noise the next morning. A new bad spell raises a new alarm.

``LEGACY`` (0 for ``z_raise``, ``hold_minutes`` and ``quiet_minutes``, ``drop_sampling_noise`` and
``disjoint_windows`` off, 3 of 5 / 4 of 5, ``drop_sigmas`` 2) is the rules as they were before, kept
for the benchmark's before/after (``benchmarks/alarm_behaviour.py``; ADR alarms-0001).

Each state change is one sentiment_alarm event (id derived from rule, key, state and time).

Ticks marked ``flush`` (``WindowEngine.flush`` moving event time past the end of the input to close
every window) are judged by no rule: they only record their heartbeats. Their windows describe
minutes nobody has seen yet, and their silence is the end of the file, not a dead camera, so an
alarm there would be one only the flush caused; nor do they clear an alarm.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from schemas.expressions import NEGATIVE, POSITIVE
from schemas.types import SentimentAlarm, SentimentWindow
from stream.aggregate import RunningStats
from stream.engine import EngineConfig, Tick
from stream.ids import stable_event_id

Rule = Literal["low_sentiment", "sentiment_drop", "camera_silent"]
HOUR_MS = 3_600_000


def default_alarm_window(window_minutes: Iterable[int]) -> int:
    """The window length the alarms watch when none is chosen: 15 minutes where the engine has that
    window, else its longest (one rule for `stream run` and the AWS stack's thresholds file)."""
    lengths = list(window_minutes)
    return 15 if 15 in lengths else max(lengths)

ALARM_STATE_VERSION = 2  # 2: machines carry raised_ms and data_ms


@dataclass(frozen=True)
class AlarmConfig:
    window_minutes: int = 15
    min_tracks: int = 5
    low_raise: float = -0.2
    low_clear: float = 0.0
    raise_m: int = 2
    raise_n: int = 3
    clear_m: int = 2
    cameras: bool = True
    drop_sigmas: float = 2.0
    drop_clear_sigmas: float = 1.0
    drop_min: float = 0.2
    baseline_min_samples: int = 30
    silent_minutes: int = 5
    z_raise: float = 2.0  # a bad window is this many standard errors below low_clear
    hold_minutes: int = 15  # an alarm stays raised at least this long (one window length)
    quiet_minutes: int = 30  # no window with enough customers this long: the alarm resolves (0: never)
    drop_sampling_noise: bool = True  # the drop rule's spread includes the window's own sampling error
    disjoint_windows: bool = True  # the N windows of M-of-N are one window length apart (independent)

    def __post_init__(self) -> None:
        for name in ("window_minutes", "min_tracks", "raise_m", "raise_n", "clear_m", "baseline_min_samples",
                     "silent_minutes", "hold_minutes", "quiet_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"alarm setting {name} must be an integer, got {value!r}")
        for name in ("low_raise", "low_clear", "drop_sigmas", "drop_clear_sigmas", "drop_min", "z_raise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"alarm setting {name} must be a finite number, got {value!r}")
        if self.window_minutes < 1:
            raise ValueError(f"alarm window_minutes must be >= 1, got {self.window_minutes}")
        if self.min_tracks < 1:
            raise ValueError(f"alarm min_tracks must be >= 1, got {self.min_tracks}")
        if self.silent_minutes < 1:
            raise ValueError(f"silent_minutes must be >= 1 (a camera is silent after that many minutes "
                             f"without a heartbeat), got {self.silent_minutes}")
        if not 1 <= self.raise_m <= self.raise_n or not 1 <= self.clear_m <= self.raise_n:
            raise ValueError(f"need 1 <= raise_m, clear_m <= raise_n; got raise_m={self.raise_m}, "
                             f"clear_m={self.clear_m}, raise_n={self.raise_n}")
        for name in ("low_raise", "low_clear"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a net score: between -1 and 1, got {getattr(self, name)}")
        if self.low_clear < self.low_raise:
            raise ValueError(f"low_clear ({self.low_clear}) must be >= low_raise ({self.low_raise}) (hysteresis)")
        if min(self.drop_sigmas, self.drop_clear_sigmas, self.drop_min) < 0 or self.baseline_min_samples < 0:
            raise ValueError("drop_sigmas, drop_clear_sigmas, drop_min and baseline_min_samples must be >= 0")
        for name, what in (("z_raise", "standard errors of evidence (0: the net score alone decides)"),
                           ("hold_minutes", "minutes a raised alarm stays raised (0: no hold)"),
                           ("quiet_minutes", "minutes without customers before an alarm resolves (0: never)")):
            if getattr(self, name) < 0:
                raise ValueError(f"alarm setting {name} must be >= 0 ({what}), got {getattr(self, name)}")
        for name in ("drop_sampling_noise", "disjoint_windows", "cameras"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"alarm setting {name} must be true or false, got {getattr(self, name)!r}")


def check_alarms_fit_windows(alarms: AlarmConfig, engine: EngineConfig) -> None:
    """Raises ValueError when the alarms watch a window length the engine never emits (which would
    silently turn the low-sentiment and drop alarms off)."""
    if alarms.window_minutes not in engine.window_minutes:
        allowed = ", ".join(str(m) for m in engine.window_minutes)
        raise ValueError(f"alarm window_minutes {alarms.window_minutes} is not one of the window lengths; "
                         f"choose one of {allowed}")


def hour_of_week(time_ms: int) -> int:
    """0 = Monday 00:00-01:00 UTC ... 167 = Sunday 23:00 (1970-01-01 was a Thursday)."""
    hours = time_ms // HOUR_MS
    return ((hours // 24 + 3) % 7) * 24 + hours % 24


def net_score_error(window: SentimentWindow, level: float) -> float:
    """Standard error of the window's net score if the room's true net score were ``level``.

    A customer votes +1 (happy), -1 (negative) or 0, so a net score from n customers has variance
    (s - level²)/n with s the share who vote at all; s is estimated with one pseudo-vote on each
    side (as the window's own interval does), so an all-sour window of five still has an error."""
    n = window["tracks"]
    shares = cast(Mapping[str, float], window["shares"] or {})
    voters = round(n * sum(shares.get(name, 0.0) for name in sorted(POSITIVE | NEGATIVE)))
    s = (voters + 2) / (n + 2)
    return math.sqrt(max(s - level * level, 1.0 / (n + 2)) / n)


@dataclass
class _Machine:
    state: str = "OK"
    history: str = ""  # verdicts, newest last, one per minute: B(ad), G(ood), M(iddle), -(no data)
    raised_ms: int | None = None  # when the current ALARM was raised
    data_ms: int | None = None  # end of the last window with enough customers
    seen_ms: int | None = None  # end of the last window judged (minutes between count as no data)


class AlarmEngine:
    def __init__(self, config: AlarmConfig | None = None) -> None:
        self.config = config or AlarmConfig()
        self._machines: dict[tuple[str, str, str], _Machine] = {}
        self._baselines: dict[tuple[str, int], RunningStats] = {}
        self._last_beat: dict[tuple[str, str], int] = {}

    def process(self, ticks: Iterable[Tick]) -> list[SentimentAlarm]:
        alarms: list[SentimentAlarm] = []
        for tick in ticks:
            for site, camera, beat in tick.heartbeats:
                key = (site, camera)
                self._last_beat[key] = max(beat, self._last_beat.get(key, beat))
            if tick.flush:  # time the flush made up: nothing to judge (module docstring)
                continue
            for window in tick.windows:
                if window["window_minutes"] == self.config.window_minutes:
                    self._on_window(window, alarms)
            self._check_quiet(tick.end_ms, alarms)
            self._check_silence(tick.end_ms, alarms)
        return alarms

    # ---------------------------------------------------------------- rules

    def _on_window(self, window: SentimentWindow, alarms: list[SentimentAlarm]) -> None:
        c = self.config
        site, camera = window["site_id"], window["camera_id"]
        net = window["net_score"]
        enough = net is not None and window["tracks"] >= c.min_tracks
        if camera is None or c.cameras:
            verdict = "-"
            if net is not None and enough:
                strong = c.low_clear - net >= c.z_raise * net_score_error(window, c.low_clear)
                verdict = "B" if net < c.low_raise and strong else "G" if net >= c.low_clear else "M"
            self._step("low_sentiment", site, camera, verdict, window["window_end_ms"], net,
                       c.low_raise, c.low_clear,
                       f"net score below {c.low_raise:g} (and {c.z_raise:g} standard errors below "
                       f"{c.low_clear:g}) in {c.raise_m} of {c.raise_n} {c.window_minutes}-minute windows",
                       f"net score at or above {c.low_clear:g} in {c.clear_m} of {c.raise_n} windows",
                       alarms)
        if camera is not None or net is None or not enough:
            return
        how = hour_of_week(window["window_end_ms"] - 1)
        baseline = self._baselines.get((site, how), RunningStats())
        verdict = "-"
        if baseline.count >= max(c.baseline_min_samples, 2):
            mean = baseline.mean
            sd = math.hypot(baseline.std, net_score_error(window, mean)) if c.drop_sampling_noise else baseline.std
            raise_at = mean - max(c.drop_sigmas * sd, c.drop_min)
            clear_at = mean - max(c.drop_clear_sigmas * sd, c.drop_min / 2)
            verdict = "B" if net < raise_at else "G" if net >= clear_at else "M"
            self._step("sentiment_drop", site, None, verdict, window["window_end_ms"], net,
                       round(raise_at, 6), round(clear_at, 6),
                       f"net score {net:+.2f} below this hour's baseline {mean:+.2f} "
                       f"(n={baseline.count}) in {c.raise_m} of {c.raise_n} windows",
                       f"net score back near this hour's baseline {mean:+.2f}", alarms)
        if verdict != "B":  # an anomaly does not teach the baseline that it is normal
            self._baselines[(site, how)] = baseline.add(net)

    def _check_quiet(self, now: int, alarms: list[SentimentAlarm]) -> None:
        """Raised sentiment alarms whose key has had no window with enough customers for quiet_minutes."""
        limit = self.config.quiet_minutes * 60_000
        if not limit:
            return
        for (rule, site, camera), machine in sorted(self._machines.items()):
            if machine.state != "ALARM" or rule == "camera_silent":
                continue
            since = machine.data_ms if machine.data_ms is not None else machine.raised_ms
            if since is None:  # restored from a version-1 state: the quiet spell counts from now
                machine.data_ms = now
                continue
            if now - since < limit:
                continue
            minutes = (now - since) // 60_000
            machine.state, machine.history, machine.raised_ms = "OK", "", None
            alarms.append(self._alarm(rule, site, camera or None, "OK", now, None, None,  # type: ignore[arg-type]
                                      f"no customers for {minutes} minutes (site closed or quiet): resolved"))

    def _check_silence(self, now: int, alarms: list[SentimentAlarm]) -> None:
        limit = self.config.silent_minutes * 60_000
        for (site, camera), beat in sorted(self._last_beat.items()):
            silent = now - beat > limit
            machine = self._machines.get(("camera_silent", site, camera))
            state = machine.state if machine else "OK"
            if silent == (state == "ALARM"):
                continue
            minutes = round((now - beat) / 60_000, 2)
            self._machines[("camera_silent", site, camera)] = _Machine("ALARM" if silent else "OK")
            alarms.append(self._alarm(
                "camera_silent", site, camera, "ALARM" if silent else "OK", now, minutes,
                float(self.config.silent_minutes),
                f"no heartbeat for {minutes:g} minutes" if silent else "heartbeats resumed"))

    def _step(self, rule: Rule, site: str, camera: str | None, verdict: str, time_ms: int,
              value: float | None, raise_at: float, clear_at: float, raise_reason: str,
              clear_reason: str, alarms: list[SentimentAlarm]) -> None:
        c = self.config
        key = (rule, site, camera or "")
        machine = self._machines.get(key)
        if machine is None:
            machine = self._machines[key] = _Machine()
        spacing = c.window_minutes if c.disjoint_windows else 1
        span = (c.raise_n - 1) * spacing + 1
        gap = 0 if machine.seen_ms is None or not c.disjoint_windows else (time_ms - machine.seen_ms) // 60_000 - 1
        machine.history = (machine.history + "-" * min(max(gap, 0), span) + verdict)[-span:]
        machine.seen_ms = time_ms
        if verdict != "-":
            machine.data_ms = time_ms
        judged = machine.history[::-1][::spacing]  # the last raise_n windows, one window length apart
        if machine.state == "OK" and judged.count("B") >= c.raise_m:
            machine.state, machine.history, machine.raised_ms = "ALARM", "", time_ms
            alarms.append(self._alarm(rule, site, camera, "ALARM", time_ms, value, raise_at, raise_reason))
        elif (machine.state == "ALARM" and judged.count("G") >= c.clear_m
              and (machine.raised_ms is None or time_ms - machine.raised_ms >= c.hold_minutes * 60_000)):
            machine.state, machine.history, machine.raised_ms = "OK", "", None
            alarms.append(self._alarm(rule, site, camera, "OK", time_ms, value, clear_at, clear_reason))

    @staticmethod
    def _alarm(rule: Rule, site: str, camera: str | None, state: Literal["ALARM", "OK"], time_ms: int,
               value: float | None, threshold: float | None, reason: str) -> SentimentAlarm:
        return {
            "schema": "sentiment_alarm", "schema_version": "1.0",
            "event_id": stable_event_id(time_ms, "sentiment_alarm", rule, state, site, camera or ""),
            "site_id": site, "event_time_ms": time_ms, "camera_id": camera, "rule": rule, "state": state,
            "value": value, "threshold": threshold, "reason": reason[:1000],
        }

    # ---------------------------------------------------------------- state

    def state_of(self, rule: Rule, site: str, camera: str | None = None) -> str:
        machine = self._machines.get((rule, site, camera or ""))
        return machine.state if machine else "OK"

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": ALARM_STATE_VERSION,
            "config": asdict(self.config),
            "machines": [[*key, m.state, m.history, m.raised_ms, m.data_ms, m.seen_ms]
                         for key, m in sorted(self._machines.items())],
            "baselines": [[site, how, *stats.to_json()] for (site, how), stats in sorted(self._baselines.items())],
            "last_beat": [[site, camera, t] for (site, camera), t in sorted(self._last_beat.items())],
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any], config: AlarmConfig | None = None) -> AlarmEngine:
        """Reads this version's state and version 1's (no ``version`` key; machines without their raise
        and last-data times: a restored raised alarm has served its hold, and resolves after
        quiet_minutes without customers counted from the first tick after the restore).

        ``config``: the settings to judge with from now on (a host restarted with other settings applies
        them to the sites it already knew); without it, the settings stored in the state."""
        version = state.get("version", 1)
        if version not in (1, ALARM_STATE_VERSION):
            raise ValueError(f"alarm state version {version!r}, this engine reads 1 and {ALARM_STATE_VERSION}")
        engine = cls(config if config is not None else AlarmConfig(**state["config"]))
        if version == 1:
            engine._machines = {(r, s, c): _Machine(st, h) for r, s, c, st, h in state["machines"]}
        else:
            engine._machines = {(r, s, c): _Machine(st, h, raised, data, seen)
                                for r, s, c, st, h, raised, data, seen in state["machines"]}
        engine._baselines = {(s, h): RunningStats.from_json([n, t, q]) for s, h, n, t, q in state["baselines"]}
        engine._last_beat = {(s, c): t for s, c, t in state["last_beat"]}
        return engine


# The rules as they were before hold, quiet resolution and evidence in standard errors (the benchmark's
# "before"; also what a config restored from a version-1 state would have meant).
LEGACY = AlarmConfig(z_raise=0.0, hold_minutes=0, quiet_minutes=0, drop_sampling_noise=False,
                     disjoint_windows=False, raise_m=3, raise_n=5, clear_m=4, drop_sigmas=2.0)
