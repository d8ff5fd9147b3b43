"""Which time zone names a site may have: the one check, and its one wording, for the site file's
`[site] timezone` (`onebox.settings`), the lake's `sites` rows and the AWS stack's `--sites` file
(`batch.lake.tables.sites_frame`).

A name is accepted when it is an IANA zone that zoneinfo lists (the pinned tzdata package carries them
all, so a box without system zone data knows them too). "localtime" is listed on machines that have
/usr/share/zoneinfo/localtime, but it names that machine's zone, not a place, and DuckDB's and Athena's
`AT TIME ZONE` refuse it; a folder such as "Europe" is no zone either.
"""

from __future__ import annotations

import functools
import zoneinfo

EXAMPLES = '"Europe/Berlin", "America/New_York", "UTC"'


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def time_zone_problem(value: object) -> str | None:
    """None for a zone a site may have; else what is wrong with `value`, for the caller to put after the
    setting, file or row it came from (e.g. "moodlens.toml:3: site.timezone: ...")."""
    if isinstance(value, str) and value in _known():
        return None
    return f"{value!r} is not an IANA time zone (e.g. {EXAMPLES})"
