"""Privacy defaults every package shares: the fewest customers behind a number, how long events are kept.

A sentiment measure over fewer tracks than the site's ``min_tracks`` setting (`stream.settings`, the
site file's ``[thresholds] min_tracks``, the AWS stack's thresholds) is suppressed: in the stream's
windows and alarms, the CloudWatch metrics, the lake's views (DuckDB and Athena), the report and the
analytics. This is that setting's default; the producers and readers of aggregates all take it from
here, and each takes the configured value where one is given.

The lake keeps events ``DEFAULT_RETAIN_DAYS`` days unless told otherwise (`moodlens batch maintain
--retain-days`, the site file's ``[lake] retain_days``): older day partitions are deleted for good.
"""

from __future__ import annotations

from typing import Final

DEFAULT_MIN_TRACKS: Final = 5
DEFAULT_RETAIN_DAYS: Final = 180
