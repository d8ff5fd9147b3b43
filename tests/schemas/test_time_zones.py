"""One check and one wording for a site's time zone, wherever it is given: the site file's
`[site] timezone`, the lake's `sites` rows, the AWS stack's `--sites` file."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from importlib import resources
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batch.lake.tables import sites_frame, sites_from_json
from onebox.config import ConfigError, load
from schemas.time_zones import EXAMPLES, time_zone_problem, utc_offsets

BAD = ["Mars/Olympus", "", "Europe", "../../etc/passwd", "localtime", "europe/berlin", "Europe/Berlin ", None, 3]
ACCEPTED = sorted(zoneinfo.available_timezones() - {"localtime"})


@pytest.mark.parametrize("value", BAD)
def test_a_bad_zone_gets_the_same_words_from_the_site_file_the_sites_rows_and_the_stacks_file(
        tmp_path: Path, value: object) -> None:
    problem = time_zone_problem(value)
    assert problem == f"{value!r} is not an IANA time zone (e.g. {EXAMPLES})"
    if isinstance(value, str):  # a site file's value is text (TOML types are checked before the zone)
        path = tmp_path / "moodlens.toml"
        path.write_text(f'[site]\nid = "x"\ntimezone = "{value}"\n[[cameras]]\nid = "a"\nsource = "0"\n')
        with pytest.raises(ConfigError) as site_file:
            load(path)
        assert f"moodlens.toml:3: site.timezone: {problem}" in str(site_file.value)
    with pytest.raises(ValueError) as row:
        sites_frame([{"site_id": "x", "timezone": value}])  # type: ignore[dict-item]
    assert str(row.value) == f"sites: site 'x': timezone: {problem}"
    with pytest.raises(ValueError) as stack_file:
        sites_from_json('{"x": {"timezone": %s}}' % ('null' if value is None else repr(value).replace("'", '"')),
                        "sites.json")
    assert str(stack_file.value) == f"sites.json: sites: site 'x': timezone: {problem}"


def test_duckdb_knows_every_accepted_zone() -> None:
    """A user's own `AT TIME ZONE` in `moodlens sql` runs on DuckDB's zone data (the views and model drift
    use the project's `local_time`): a zone the check lets through must not fail there. (DuckDB's data
    differs from the pinned tzdata for a few zones and years; `benchmarks/zone_data_agreement.py` lists them.)"""
    con = duckdb.connect()
    for zone in ACCEPTED:
        con.execute("SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' AT TIME ZONE ?", [zone]).fetchall()


def test_zoneinfo_reads_the_pinned_tzdata_package_not_the_systems_zone_folders() -> None:
    """Debian's /usr/share/zoneinfo (2025b on a bookworm box) says UTC-8 for a Vancouver winter; the
    pinned tzdata says what the project ships with, on every box."""
    import schemas.time_zones  # noqa: F401  (pins zoneinfo on import)

    assert zoneinfo.TZPATH == ()
    noon = dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC)
    for zone in ("America/Vancouver", "Africa/Casablanca", "America/Havana", "Europe/Berlin"):
        with resources.files("tzdata.zoneinfo").joinpath(*zone.split("/")).open("rb") as handle:
            pinned = zoneinfo.ZoneInfo.from_file(handle, key=zone)
        assert noon.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset() == noon.astimezone(pinned).utcoffset()


@settings(max_examples=80, deadline=None)
@given(zone=st.sampled_from(ACCEPTED), seconds=st.lists(
    st.integers(int(dt.datetime(2, 1, 1, tzinfo=dt.UTC).timestamp()),
                int(dt.datetime(9998, 1, 1, tzinfo=dt.UTC).timestamp())), min_size=1, max_size=50))
@example(zone="Australia/Lord_Howe", seconds=[1775314799, 1775314800])  # 2026-04-05 02:00 +11 -> 01:30 +10:30
def test_the_offset_table_is_zoneinfos_offset_at_every_second(zone: str, seconds: list[int]) -> None:
    table = utc_offsets(zone)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for s in seconds:
        for t in (s, s - 1):
            offset = (epoch + dt.timedelta(seconds=t)).astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
            assert table.at(t) == offset.total_seconds()  # type: ignore[union-attr]


def test_the_offset_table_refuses_an_unknown_zone_by_name() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone"):
        utc_offsets("Mars/Olympus")


def test_the_cli_process_reads_the_pinned_tzdata_before_any_command_runs() -> None:
    """A command's first `ZoneInfo(name)` (the report's --since, the page's day) must already be pinned:
    importing the CLI imports `schemas`."""
    import subprocess  # nosec B404: this interpreter, fixed arguments
    import sys

    probe = ("import moodlens.cli, zoneinfo, datetime as dt; print(zoneinfo.TZPATH, "
             "dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo('America/Vancouver')).hour)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)  # nosec B603
    with resources.files("tzdata.zoneinfo").joinpath("America", "Vancouver").open("rb") as handle:
        pinned = zoneinfo.ZoneInfo.from_file(handle, key="America/Vancouver")
    assert out.stdout.split() == ["()", str(dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC).astimezone(pinned).hour)]
