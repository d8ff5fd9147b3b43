"""`moodlens sql` one step from the site file: its lake and time zone, read-only, --tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from locallog import LocalLog
from moodlens.cli import main
from tests.batch.lakes import T0, visit

SITE_FILE = '''[site]
id = "cafe-1"
timezone = "Asia/Tokyo"
[lake]
path = "{lake}"
[[cameras]]
id = "door"
source = "0"
'''


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with LocalLog(tmp_path / "log") as log:
        log.append([json.dumps(visit(T0 + 20 * 3_600_000 + i * 60_000, track=f"t{i}")).encode() for i in range(6)])
    assert main(["batch", "compact", "--lake", str(tmp_path / "lake"), "--log", str(tmp_path / "log")]) == 0
    (tmp_path / "moodlens.toml").write_text(SITE_FILE.format(lake="lake"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOODLENS_LAKE", raising=False)
    return tmp_path


def test_sql_finds_the_lake_and_the_time_zone_in_the_site_file(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sql", "--raw", "--format", "csv", "SELECT count(*) AS n FROM face_expression"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "6"]
    # 20:00 UTC on 22 September is 05:00 on the 23rd in Tokyo
    assert main(["sql", "--format", "csv", "SELECT local_date, local_hour FROM sentiment_by_hour_site"]) == 0
    assert capsys.readouterr().out.splitlines() == ["local_date,local_hour", "2026-09-23,5"]


def test_tables_lists_tables_and_views(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sql", "--tables", "--raw"]) == 0
    out = capsys.readouterr().out
    assert "face_expression (table):" in out and "sentiment_by_hour_site (view):" in out and "    local_hour " in out
    assert main(["sql", "--tables"]) == 0  # without --raw: named, with no columns, and how to open it
    out = capsys.readouterr().out
    assert re.search(r"^face_expression \(raw table\): .*--raw opens it\n(?!    )", out, flags=re.MULTILINE)
    assert "    track_id" not in out and "sentiment_by_hour_site (view):" in out


def test_a_site_file_whose_lake_is_missing_is_named(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "moodlens.toml").write_text(SITE_FILE.format(lake="nowhere"))
    capsys.readouterr()
    assert main(["sql", "SELECT 1"]) != 0
    assert re.search(r"moodlens.toml: \[lake\] path: no lake at .*nowhere", capsys.readouterr().err)


def test_an_unknown_table_and_a_write_exit_2_with_a_message(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sql", "SELECT * FROM visit"]) == 2
    assert 'did you mean "visits"' in capsys.readouterr().err
    target = site / "stolen.csv"
    assert main(["sql", "--raw", f"COPY (SELECT * FROM face_expression) TO '{target}'"]) == 2
    assert "disabled by configuration" in capsys.readouterr().err and not target.exists()
    assert main(["sql", "--raw", "--allow-file-access",
                 f"COPY (SELECT count(*) AS n FROM face_expression) TO '{target}'"]) == 0
    assert target.read_text().splitlines() == ["n", "6"]


def test_a_report_of_another_site_uses_that_sites_zone_from_the_lake(site: Path) -> None:
    import argparse

    from batch.lake.tables import LakeConfig, open_catalog, sites_frame, write_sites
    from moodlens.commands.analytics_input import connect

    write_sites(open_catalog(LakeConfig(root=site / "lake")),
                sites_frame([{"site_id": "shop-2", "timezone": "America/New_York"}]))
    for chosen, zone in (("shop-2", "America/New_York"), ("cafe-1", "Asia/Tokyo"), (None, "Asia/Tokyo")):
        args = argparse.Namespace(config=None, lake=None, min_tracks=None, site=chosen)
        connect(args).close()
        assert args.timezone == zone


def test_an_explicit_log_wins_over_the_site_files_lake(site: Path) -> None:
    import argparse

    from moodlens.commands.analytics_input import connect

    with LocalLog(site / "log") as log:
        log.append([json.dumps(visit(T0 + 22 * 3_600_000, track="after")).encode()])
    from_lake = argparse.Namespace(config=None, lake=None, log=None, min_tracks=None, stream_state=None)
    from_log = argparse.Namespace(config=None, lake=None, log=site / "log", min_tracks=None, stream_state=None)
    counts = []
    for args in (from_lake, from_log):
        con = connect(args)
        counts.append(con.execute("SELECT count(*) FROM face_expression").fetchall()[0][0])
        assert args.timezone == "Asia/Tokyo"  # the site file still gives the zone
    assert counts == [6, 7]


def _hour_shown(capsys: pytest.CaptureFixture[str], *flags: str) -> list[str]:
    capsys.readouterr()
    assert main(["sql", *flags, "--format", "csv", "SELECT tracks, suppressed FROM sentiment_by_hour_site"]) == 0
    return capsys.readouterr().out.splitlines()[1:]


def test_the_views_hide_by_the_site_files_min_tracks_as_the_report_does(
        site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The site's one hour holds 6 customers: shown at the default 5, hidden where the site asks for 7,
    in `moodlens sql` and in the connection the report and the analytics read the views through."""
    import argparse

    from moodlens.commands.analytics_input import connect

    assert _hour_shown(capsys) == ["6,False"]
    (site / "moodlens.toml").write_text(SITE_FILE.format(lake="lake") + "[thresholds]\nmin_tracks = 7\n")
    assert _hour_shown(capsys) == ["6,True"]
    assert _hour_shown(capsys, "--min-tracks", "6") == ["6,False"]  # the command's own option wins
    args = argparse.Namespace(config=None, lake=None, log=None, min_tracks=None, stream_state=None)
    con = connect(args)
    assert args.min_tracks == 7
    assert con.execute("SELECT suppressed FROM sentiment_by_hour_site").fetchall() == [(True,)]
    con.close()
    assert main(["sql", "--min-tracks", "0", "SELECT 1"]) != 0
    assert "--min-tracks must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("query", [
    "SELECT track_id, event_time, box, valence FROM face_expression",
    "SELECT f.track_id FROM visits v JOIN face_expression f USING (site_id)",
    "SELECT * FROM query_table('face_expression')",
    "SELECT camera_id, tracks, net_score FROM sentiment_window",
    "SELECT line FROM quarantine",
])
def test_without_raw_no_query_reads_a_customers_own_row(site: Path, capsys: pytest.CaptureFixture[str],
                                                         query: str) -> None:
    """The analyst's default is the suppressed views: one face's track, times and valence (or a window
    that a difference turns into one customer) need --raw, and the refusal says so."""
    capsys.readouterr()
    assert main(["sql", "--format", "csv", query]) == 2
    captured = capsys.readouterr()
    assert "--raw" in captured.err and "never suppressed" in captured.err and captured.out == ""
    assert "query_table" in query or main(["sql", "--raw", "--format", "csv", query]) == 0


def test_without_raw_the_views_still_read_the_raw_tables(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sql", "--format", "csv", "SELECT visits, suppressed, mean_valence FROM visits"]) == 0
    assert capsys.readouterr().out.splitlines() == ["visits,suppressed,mean_valence", "6,False,1.0"]
    assert main(["sql", "--format", "csv", "SELECT count(*) AS n FROM alarms_with_windows"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "0"]
