"""`moodlens batch compact --sites JSON` (the AWS stack's hourly compaction) writes the lake's sites table
under the same lock as the compaction; a bad value is refused before any work."""

import json

import numpy as np

from batch.lake.tables import LakeConfig, lake_sites, open_catalog
from locallog import LocalLog
from moodlens.cli import main
from tests.batch.drift_events import BASELINE, day_of_faces


def _log(tmp_path):
    events = day_of_faces(np.random.default_rng(3), 0, "door", BASELINE.shares, n=50)
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(e).encode() for e in events])
    log.close()
    return events[0]["site_id"]


def test_compaction_writes_the_sites_rows_and_sql_reads_local_time(tmp_path, capsys):
    site = _log(tmp_path)
    sites = json.dumps({site: {"name": "Front café", "timezone": "Asia/Kolkata"}})
    argv = ["batch", "compact", "--log", str(tmp_path / "log"), "--lake", str(tmp_path / "lake"), "--sites", sites]
    assert main(argv) == 0
    assert main([*argv, "--from-start"]) == 0  # again: replaced, not doubled
    table = lake_sites(open_catalog(LakeConfig(root=tmp_path / "lake")))
    assert table is not None
    assert table.scan().to_arrow().select(["site_id", "name", "timezone"]).to_pylist() == [
        {"site_id": site, "name": "Front café", "timezone": "Asia/Kolkata"}]
    capsys.readouterr()
    assert main(["sql", "--raw", "--lake", str(tmp_path / "lake"), "--format", "json",
                 "SELECT minute(f.event_time) AS utc_minute, minute(f.event_time AT TIME ZONE s.timezone) "
                 "AS local_minute FROM face_expression f JOIN sites s USING (site_id) LIMIT 1"]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert rows, out
    assert (rows[0]["local_minute"] - rows[0]["utc_minute"]) % 60 == 30  # Kolkata is 5:30 off UTC


def test_a_bad_sites_value_is_refused_before_the_lake_is_touched(tmp_path, capsys):
    _log(tmp_path)
    assert main(["batch", "compact", "--log", str(tmp_path / "log"), "--lake", str(tmp_path / "lake"),
                 "--sites", json.dumps({"x": {"timezone": "Nowhere/Land"}})]) != 0
    assert "--sites: sites: site 'x': timezone: 'Nowhere/Land' is not an IANA" in capsys.readouterr().err
    assert not (tmp_path / "lake").exists()
