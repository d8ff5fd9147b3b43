"""What a site's customers usually look like at a given hour: the reference the drop rules judge against.

One ``DayBaseline`` per (site, hour of the week) and per (site, hour of the day). It learns from
samples that do not overlap: only the site windows that end on a multiple of their own length
(a 15-minute window ending 13:15, 13:30, ...; the windows ending each minute in between share 14 of
their 15 minutes with these). Hours and days are the site's local ones (`stream.window_evidence`: the
caller passes local instants). The samples of one local calendar day are pooled into that day's
counts (positive, negative, customers), so an hour seen in 30 windows on one afternoon is one day,
not 30 samples.

* **Ready** only after ``min_days`` distinct days (for an hour of the week: distinct weeks).
* **Robust**: the reference is the median over the days of each day's positive and negative share,
  and its spread the days' median absolute deviation of the net score (×1.4826, the normal
  scale): one lucky or one bad day moves neither.
* **Decaying**: only the latest ``keep_days`` days (7) are kept, so a site whose mood shifts for good
  (a new menu) has its new level as the reference once more than half the kept days have it:
  after ``keep_days // 2 + 1`` days (an hour of the day: 4 days; an hour of the week: 4 weeks).
* **Dispersion**: how much more the days' net scores vary than independent customers would make
  them vary (parties that share one mood, a customer seen by two cameras): each baseline gives its
  days' Pearson statistic and degrees of freedom, and `dispersion` pools those of a site's hours
  into one factor (one hour's seven days alone are too few: chance alone would put it near 2).
* **Never frozen**: every sample joins, bad ones too. Robustness, not exclusion, keeps a bad hour
  from teaching the baseline that it is normal, so a reference learnt from one lucky spell comes
  down as ordinary days arrive.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stream.window_evidence import HOUR_MS, SiteClock, baseline_keys

DAY_MS = 86_400_000
MAD_TO_SD = 1.4826  # median absolute deviation of a normal sample, in standard deviations
MIN_DISPERSION_FREEDOM = 20  # fewer degrees of freedom estimate the dispersion too loosely: 1 is assumed
MAX_DISPERSION = 4.0  # about a party of four sharing one mood; beyond it the days truly differ, not the customers


@dataclass(frozen=True)
class Reference:
    """The usual mood: shares of customers who look happy (positive) and unhappy (negative)."""

    positive: float
    negative: float
    spread: float  # robust standard deviation of a day's net score around ``net``
    days: int

    @property
    def net(self) -> float:
        return self.positive - self.negative


@dataclass
class DayBaseline:
    # (local day number since 1970, positive, negative, customers), oldest first
    days: list[list[int]] = field(default_factory=list)
    # the last reference computed, for its min_days: read every minute, changed a few times an hour
    _memo: tuple[int, Reference | None] | None = field(default=None, compare=False, repr=False)
    _pearson: tuple[int, tuple[float, int]] | None = field(default=None, compare=False, repr=False)
    _before: tuple[int, Reference | None] | None = field(default=None, compare=False, repr=False)

    def add(self, time_ms: int, positive: int, negative: int, customers: int, keep_days: int) -> None:
        """One non-overlapping sample ending at the local instant ``time_ms`` (the caller checks the alignment)."""
        if customers <= 0:
            return
        self._memo = self._pearson = self._before = None
        day = (time_ms - 1) // DAY_MS
        if self.days and self.days[-1][0] == day:
            last = self.days[-1]
            last[1] += positive
            last[2] += negative
            last[3] += customers
        elif not self.days or day > self.days[-1][0]:
            self.days.append([day, positive, negative, customers])
            del self.days[:-keep_days]

    def reference(self, min_days: int) -> Reference | None:
        if self._memo is None or self._memo[0] != min_days:
            self._memo = (min_days, self._reference(min_days))
        return self._memo[1]

    def _reference(self, min_days: int) -> Reference | None:
        return _median_of(self.days) if len(self.days) >= max(min_days, 1) else None

    def before(self, day: int) -> Reference | None:
        """The reference over the days kept before ``day`` (at least two: one day has no spread), however
        few: never the day's own samples, which a spell under way would teach that it is usual."""
        if self._before is None or self._before[0] != day:
            earlier = [d for d in self.days if d[0] < day]
            self._before = (day, _median_of(earlier) if len(earlier) >= 2 else None)
        return self._before[1]

    def pearson(self, min_days: int) -> tuple[float, int]:
        """(Pearson statistic, degrees of freedom) of the days' net scores against independent customers
        at the usual shares; (0, 0) before ``min_days`` days. A customer's vote (+1/0/-1) has variance
        p+ + p- - (p+ - p-)^2, a day of n customers' net score that over n."""
        if self._pearson is None or self._pearson[0] != min_days:
            reference = self.reference(min_days)
            vote_variance = 0.0 if reference is None else \
                reference.positive + reference.negative - (reference.positive - reference.negative) ** 2
            if reference is None or len(self.days) < 2 or vote_variance <= 1e-9:
                self._pearson = (min_days, (0.0, 0))
            else:
                nets = [((p - q) / n, n) for _, p, q, n in self.days]
                mean = sum(x * n for x, n in nets) / sum(n for _, n in nets)  # the customers' pooled net score
                self._pearson = (min_days, (sum(n * (x - mean) ** 2 for x, n in nets) / vote_variance, len(nets) - 1))
        return self._pearson[1]

    def to_json(self) -> list[list[int]]:
        return [list(d) for d in self.days]

    @classmethod
    def from_json(cls, rows: Sequence[Sequence[int]]) -> DayBaseline:
        return cls([[int(x) for x in row] for row in rows])


def _median_of(days: Sequence[Sequence[int]]) -> Reference:
    # shares smoothed by one pseudo-customer each way: a day of five all-happy faces is not "never unhappy"
    pos = [(p + 0.5) / (n + 1) for _, p, _, n in days]
    neg = [(q + 0.5) / (n + 1) for _, _, q, n in days]
    nets = [(p - q) / n for _, p, q, n in days]
    centre = statistics.median(nets)
    spread = MAD_TO_SD * statistics.median(abs(x - centre) for x in nets)
    return Reference(statistics.median(pos), statistics.median(neg), spread, len(days))


def dispersion(pearsons: Iterable[tuple[float, int]]) -> float:
    """How much more the days vary than independent customers would make them: the pooled Pearson
    statistic over what independent customers would rarely exceed (its degrees of freedom df plus two
    of its standard deviations, sqrt(2 df) each: chance alone is not taken for clustering, so a site
    of independent customers keeps all its evidence), between 1 and ``MAX_DISPERSION``; 1 with fewer
    than ``MIN_DISPERSION_FREEDOM`` degrees of freedom. It counts real day-to-day differences too,
    which is why it is capped."""
    statistic, freedom = 0.0, 0
    for x2, df in pearsons:
        statistic += x2
        freedom += df
    if freedom < MIN_DISPERSION_FREEDOM:
        return 1.0
    return min(max(statistic / (freedom + 2 * math.sqrt(2 * freedom)), 1.0), MAX_DISPERSION)


def rekeyed(baselines: Mapping[tuple[str, str], DayBaseline], was: Callable[[str], SiteClock],
            now: Callable[[str], SiteClock], keep_days: int) -> dict[tuple[str, str], DayBaseline]:
    """(site, key) -> baseline, kept in the local hours of ``was(site)``'s zone, moved to ``now(site)``'s.

    A stored day of a key is one hour of one day on the old clock: its counts move to the hour and day that
    hour's middle reads on the new clock, oldest first, as if the samples had been taken there (two that
    meet pool, as the repeated autumn hour does; ``keep_days`` keeps the latest). From UTC this is exact;
    from another zone the old clock's repeated autumn hour, already pooled, moves as one of its readings."""
    out: dict[tuple[str, str], DayBaseline] = {}
    moved: list[tuple[int, str, str, int, int, int, int]] = []
    for (site, key), baseline in baselines.items():
        old, new = was(site), now(site)
        if old.zone == new.zone:
            out[(site, key)] = baseline
            continue
        hour = int(key[1:]) % 24
        for day, positive, negative, customers in baseline.days:
            at = old.utc_ms(day * DAY_MS + hour * HOUR_MS + HOUR_MS // 2)
            moved.append((at, site, key[0], positive, negative, customers, new.local_ms(at)))
    for _, site, kind, positive, negative, customers, local in sorted(moved):
        week, day_key = baseline_keys(local + 1)
        target = out.setdefault((site, week if kind == "w" else day_key), DayBaseline())
        target.add(local + 1, positive, negative, customers, keep_days)
    return out
