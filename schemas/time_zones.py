"""Which time zone names a site may have, and what each zone's UTC offset is at any instant: one zone
database for the whole project, the pinned `tzdata` package.

A name is accepted when it is an IANA zone that the pinned tzdata package carries (so a box without system
zone data knows them too). "localtime" names a machine's zone, not a place, and DuckDB's and Athena's
`AT TIME ZONE` refuse it; a folder such as "Europe" is no zone either. The one check and its one wording
serve the site file's `[site] timezone` (`onebox.settings`), the lake's `sites` rows and the AWS stack's
`--sites` file (`batch.lake.tables.sites_frame`).

zoneinfo looks in the system's zone folders (/usr/share/zoneinfo: Debian's tzdata, whatever release the
box has) before the tzdata package, so two boxes could place the same instant in different local hours.
Importing this module empties zoneinfo's search path: every `ZoneInfo(name)` in the process reads the
pinned package. `utc_offsets` gives a zone's offsets as a table for engines that have their own zone data
(DuckDB's views call the project's `local_time`, built from it); Athena runs the views in Trino, whose
zone data is Java's.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import io
import struct
import zoneinfo
from dataclasses import dataclass
from importlib import resources

EXAMPLES = '"Europe/Berlin", "America/New_York", "UTC"'

zoneinfo.reset_tzpath(to=())  # the pinned tzdata package only, on every box
zoneinfo.ZoneInfo.clear_cache()

# After a zone's last listed transition its rule (the TZif footer's POSIX TZ string) repeats every 400
# Gregorian years: 146097 days, a whole number of weeks.
CYCLE_S = 146_097 * 86_400
_PROBE_S = 7 * 86_400  # a rule's two changes a year are months apart: weekly probes see each of them
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FIRST_S = int((dt.datetime(1, 1, 2, tzinfo=dt.UTC) - _EPOCH).total_seconds())
_LAST_S = int((dt.datetime(9999, 12, 30, tzinfo=dt.UTC) - _EPOCH).total_seconds())
_HEADER = struct.Struct(">4sc15x6l")


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def time_zone_problem(value: object) -> str | None:
    """None for a zone a site may have; else what is wrong with `value`, for the caller to put after the
    setting, file or row it came from (e.g. "moodlens.toml:3: site.timezone: ...")."""
    if isinstance(value, str) and value in _known():
        return None
    return f"{value!r} is not an IANA time zone (e.g. {EXAMPLES})"


@dataclass(frozen=True)
class UtcOffsets:
    """A zone's offsets east of UTC in seconds: `before` until `starts[0]`, then `offsets[i]` from
    `starts[i]` (epoch seconds) on; from `cycle_from` on the table repeats every CYCLE_S seconds."""

    zone: str
    before: int
    starts: tuple[int, ...]
    offsets: tuple[int, ...]
    cycle_from: int

    def at(self, epoch_s: int) -> int:
        """The offset at an instant (any int, also past the years datetime can hold)."""
        if epoch_s >= self.cycle_from + CYCLE_S:
            epoch_s = self.cycle_from + (epoch_s - self.cycle_from) % CYCLE_S
        i = bisect.bisect_right(self.starts, epoch_s) - 1
        return self.before if i < 0 else self.offsets[i]


def _tzif_transitions(data: bytes) -> list[int]:
    """The transition instants (epoch seconds) a TZif file lists (RFC 8536: version 2+ data block)."""
    magic, version, isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt = _HEADER.unpack_from(data)
    if magic != b"TZif":
        raise ValueError("not a TZif file")
    if version == b"\0":
        return list(struct.unpack_from(f">{timecnt}l", data, _HEADER.size))
    second = _HEADER.size + timecnt * 5 + typecnt * 6 + charcnt + leapcnt * 8 + isstdcnt + isutcnt
    timecnt = _HEADER.unpack_from(data, second)[5]
    return list(struct.unpack_from(f">{timecnt}q", data, second + _HEADER.size))


@functools.cache
def utc_offsets(zone: str) -> UtcOffsets:
    """`zone`'s offsets as zoneinfo gives them from the pinned tzdata: the listed transitions of its TZif
    file, then its rule probed weekly (each change found to the second by bisection) for one cycle."""
    if (problem := time_zone_problem(zone)) is not None:
        raise ValueError(problem)
    data = resources.files("tzdata.zoneinfo").joinpath(*zone.split("/")).read_bytes()
    info = zoneinfo.ZoneInfo.from_file(io.BytesIO(data), key=zone)

    def offset(epoch_s: int) -> int:
        moment = (_EPOCH + dt.timedelta(seconds=epoch_s)).astimezone(info)
        return int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]

    listed = sorted({t for t in _tzif_transitions(data) if _FIRST_S < t < _LAST_S})
    cycle_from = listed[-1] if listed else 0
    before = offset(listed[0] - 1) if listed else offset(cycle_from)
    changes = [(t, offset(t)) for t in listed]
    current = offset(cycle_from)
    start, end = cycle_from, cycle_from + CYCLE_S
    while start < end:
        probe = min(start + _PROBE_S, end)
        if offset(probe) == current:
            start = probe
            continue
        low, high = start, probe  # offset(low) == current != offset(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        current = offset(high)
        changes.append((high, current))
        start = high
    starts: list[int] = []
    offsets: list[int] = []
    last = before
    for when, value in changes:
        if value != last:
            starts.append(when)
            offsets.append(value)
            last = value
    return UtcOffsets(zone, before, tuple(starts), tuple(offsets), cycle_from)
