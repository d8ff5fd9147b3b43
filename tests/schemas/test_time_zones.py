"""One check and one wording for a site's time zone, wherever it is given: the site file's
`[site] timezone`, the lake's `sites` rows, the AWS stack's `--sites` file."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import duckdb
import pytest

from batch.lake.tables import sites_frame, sites_from_json
from onebox.config import ConfigError, load
from schemas.time_zones import EXAMPLES, time_zone_problem

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
    """The views and model drift take local time in DuckDB (Athena in Trino): a zone the check lets
    through must not fail there. (That DuckDB's zone data says the same as tzdata's is not tested: it
    does not, for a few zones and years; `benchmarks/zone_data_agreement.py` lists them.)"""
    con = duckdb.connect()
    for zone in ACCEPTED:
        con.execute("SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' AT TIME ZONE ?", [zone]).fetchall()
