"""The site's row in the lake's `sites` table: name and time zone, for readers without the site file.

The site file owns the row; the lake carries a copy so that `moodlens report`, `sql` and Athena,
run with only the lake, still speak the site's local time. Written under the lake's lock: a
compaction or a retention run writing the lake at the same moment is waited for (or, with
`wait_s` 0, the caller tries again later), never raced.
"""

from __future__ import annotations

from onebox.config import SiteConfig

PURPOSE = "the site's row of the sites table (moodlens up)"


def publish_sites(config: SiteConfig, wait_s: float | None = None) -> None:
    """Replaces the lake's `sites` rows with this site's; raises `LakeBusyError` after `wait_s`
    (default: the lock's own wait) when another run holds the lake."""
    from batch.lake.lock import DEFAULT_WAIT_S, lake_lock
    from batch.lake.tables import LakeConfig, open_catalog, sites_frame, write_sites

    lake = LakeConfig(root=config.lake_dir)
    rows = sites_frame([{"site_id": config.site_id, "name": config.site_name,
                         "timezone": config.get("site", "timezone")}])
    with lake_lock(lake, PURPOSE, DEFAULT_WAIT_S if wait_s is None else wait_s):
        write_sites(open_catalog(lake), rows)


def lake_exists(config: SiteConfig) -> bool:
    return (config.lake_dir / "catalog.db").is_file()
