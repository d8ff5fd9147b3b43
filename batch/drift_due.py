"""Which local days a scheduled model-drift run judges, and the record of those already judged.

The AWS stack runs the drift task every hour. Each run judges, at every site, the local days that have
ended at least ``SETTLE_MS`` ago (time for the last events to reach the lake: the hourly compaction
starts in between) and that come after the last day the record says was judged there. So a site's
day is judged within about an hour of its end, whatever its zone: Auckland's at noon UTC, Los
Angeles' at 08:40 or 09:40 UTC by the season. A run that fails or never starts leaves the record as
it was, and the next run judges what it missed; a site the record does not know yet (a new site, the
first run) starts with its last ended day. Days older than ``CATCH_UP_DAYS`` are left out and said so:
CloudWatch refuses datapoints more than two weeks old.

The record is one small JSON object, ``{site: last judged local day}``: a file, or an S3 object
written with conditional requests, so two runs at once never lose each other's days. It is written
after the judgement's metrics were put: a run killed in between judges those days again next hour,
and the repeated datapoints (same stamp, same value) leave the alarm's Maximum as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from batch.drift import LocalDays
from batch.lake.lock import http_status

SETTLE_MS = 30 * 60_000  # a day's end to its judgement: its last events in raw/ and compacted
CATCH_UP_DAYS = 13  # CloudWatch takes datapoints up to two weeks old; a day short of it keeps a margin
WRITE_TRIES = 5  # conditional writes lost to other runs before giving up


@dataclass(frozen=True)
class Due:
    periods: list[LocalDays]  # one per site with days to judge
    too_old: list[str]  # sites whose missed days reached past CATCH_UP_DAYS, with the days left out


def last_ended_day(zone: str, now_ms: int, settle_ms: int = SETTLE_MS) -> dt.date:
    """The latest local day in `zone` that ended at least `settle_ms` before `now_ms`."""
    settled = dt.datetime.fromtimestamp((now_ms - settle_ms) / 1000, ZoneInfo(zone))
    return settled.date() - dt.timedelta(days=1)


def due_days(zones: Mapping[str, str], judged: Mapping[str, dt.date], now_ms: int, settle_ms: int = SETTLE_MS,
             catch_up_days: int = CATCH_UP_DAYS) -> Due:
    """Each site's days to judge now: after its last judged day (`judged`; a site without one: its last
    ended day only) up to its last ended day, at most `catch_up_days` of them."""
    periods, too_old = [], []
    for site, zone in sorted(zones.items()):
        last = last_ended_day(zone, now_ms, settle_ms)
        first = judged[site] + dt.timedelta(days=1) if site in judged else last
        oldest = last - dt.timedelta(days=catch_up_days - 1)
        if first < oldest:
            skipped = first.isoformat() if first == oldest - dt.timedelta(days=1) else \
                f"{first} to {oldest - dt.timedelta(days=1)}"
            too_old.append(f"site {site}: {skipped} not judged (more than {catch_up_days} days ago)")
            first = oldest
        if first <= last:
            periods.append(LocalDays(site, zone, first, last))
    return Due(periods, too_old)


def _parse(text: bytes, where: str) -> dict[str, dt.date]:
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return {str(site): dt.date.fromisoformat(day) for site, day in data.items()}
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: not a record of judged drift days ({{site: \"YYYY-MM-DD\"}}): {error}; "
                         "delete it to start again from each site's last ended day") from None


def _merged(old: Mapping[str, dt.date], new: Mapping[str, dt.date]) -> bytes:
    merged = dict(old)
    for site, day in new.items():
        merged[site] = max(day, merged.get(site, day))
    return json.dumps({s: d.isoformat() for s, d in sorted(merged.items())}, indent=1).encode()


class JudgedDays:
    """The record at `location`: a file path, or s3://bucket/key (`client`: a boto3 S3 client)."""

    def __init__(self, location: str, client: Any = None) -> None:
        self.location = location
        self.client = client
        if location.startswith("s3://"):
            self.bucket, _, self.key = location.removeprefix("s3://").partition("/")
            if not self.bucket or not self.key or self.key.endswith("/"):
                raise ValueError(f"{location}: give the record's object as s3://bucket/key")

    @property
    def on_s3(self) -> bool:
        return self.location.startswith("s3://")

    def read(self) -> dict[str, dt.date]:
        return self._read()[0]

    def _read(self) -> tuple[dict[str, dt.date], str | None]:
        if not self.on_s3:
            path = Path(self.location)
            return (_parse(path.read_bytes(), self.location), None) if path.exists() else ({}, None)
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as error:
            if http_status(error) == 404:
                return {}, None
            raise
        return _parse(found["Body"].read(), self.location), found["ETag"]

    def record(self, days: Mapping[str, dt.date]) -> None:
        """Adds `days` (site -> last day judged) to the record; a site's day only ever moves forward."""
        if not self.on_s3:
            from locallog.files import write_atomically

            path = Path(self.location)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, _merged(self.read(), days))
            return
        for _ in range(WRITE_TRIES):
            old, etag = self._read()
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=_merged(old, days), **condition)
                return
            except Exception as error:
                if http_status(error) not in (409, 412):  # another run wrote it since we read it: merge again
                    raise
        raise RuntimeError(f"{self.location}: other runs kept changing the record; {dict(days)} not recorded")
