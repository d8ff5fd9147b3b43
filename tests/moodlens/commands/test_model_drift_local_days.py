"""`moodlens model drift` over sites in several time zones: each site's period is its own whole local days
(one lake, written by the real compaction with the stack's `--sites`), on a DST week too, and the
CloudWatch datapoints are stamped at each site's local day (read back from a moto server)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import numpy as np
import pytest

from locallog import LocalLog
from moodlens.cli import main
from moodlens.commands import model_drift
from schemas.expressions import EXPRESSIONS
from tests.batch.drift_events import BASELINE
from tests.schemas.events import face_expression

ZONES = {"tokyo-1": "Asia/Tokyo", "la-1": "America/Los_Angeles"}
CAMERA = "door-tz"


def faces(site: str, local: dt.datetime, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """`n` faces at `site`, one a second from the local wall-clock time `local` (its fold picks which of
    an hour that happens twice)."""
    start = int(local.replace(tzinfo=ZoneInfo(ZONES[site])).timestamp() * 1000)
    tops = rng.choice(len(EXPRESSIONS), size=n, p=np.asarray(BASELINE.shares) / sum(BASELINE.shares))
    return [face_expression(site_id=site, camera_id=CAMERA, track_id=f"{site}-{start}-{i}",
                            event_time_ms=start + i * 1000, top_class=EXPRESSIONS[t]) for i, t in enumerate(tops)]


def at(day: str, clock: str, fold: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(fold=fold)


# Per site, the same local wall-clock times; expected faces per local day of the two periods judged.
WEEK_OF_OCTOBER = [  # judged as --since 3d --until 2026-10-08
    ("2026-10-04", "23:30", 10),  # the evening before the period: out
    ("2026-10-05", "00:30", 40),  # the period's first half hour: in
    ("2026-10-05", "12:00", 100), ("2026-10-06", "12:00", 100), ("2026-10-07", "12:00", 100),
    ("2026-10-07", "23:30", 30),  # the last evening: in
    ("2026-10-08", "00:30", 20),  # the next night: out
]
OCTOBER_DAYS = {"2026-10-05": 140, "2026-10-06": 100, "2026-10-07": 130}
DST_WEEK = [  # judged as --since 1w --until 2026-11-05; Los Angeles falls back on 2026-11-01 (a 25-hour day)
    ("2026-10-28", "23:30", 10), ("2026-10-29", "00:30", 40),
    *[(f"2026-{d}", "12:00", 100) for d in ("10-29", "10-30", "10-31", "11-01", "11-02", "11-03", "11-04")],
    ("2026-11-01", "00:30", 11), ("2026-11-01", "01:30", 12), ("2026-11-01", "01:30+", 13),  # 01:30 twice
    ("2026-11-01", "23:30", 14),  # the 25th hour's evening is still 1 November
    ("2026-11-04", "23:30", 30), ("2026-11-05", "00:30", 20),
]
DST_DAYS = {"2026-10-29": 140, "2026-10-30": 100, "2026-10-31": 100, "2026-11-01": 150, "2026-11-02": 100,
            "2026-11-03": 100, "2026-11-04": 130}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    rng = np.random.default_rng(24)
    root = tmp_path_factory.mktemp("drift-zones")
    events = [e for site in ZONES for day, clock, n in WEEK_OF_OCTOBER + DST_WEEK
              for e in faces(site, at(day, clock.rstrip("+"), fold=clock.endswith("+")), n, rng)]
    log = LocalLog(root / "log")
    log.append([json.dumps(e).encode() for e in sorted(events, key=lambda e: e["event_time_ms"])])
    log.close()
    sites = json.dumps({site: {"name": site, "timezone": zone} for site, zone in ZONES.items()})
    assert main(["batch", "compact", "--log", str(root / "log"), "--lake", str(root / "lake"), "--sites", sites]) == 0
    return str(root / "lake")


def drift_rows(lake: str, capsys: pytest.CaptureFixture[str], *period: str) -> tuple[list[dict[str, Any]], str]:
    capsys.readouterr()
    assert main(["model", "drift", "--lake", lake, *period, "--own-days", "0", "--min-faces", "1", "--json",
                 "--exit-zero"]) == 0
    out = capsys.readouterr()
    return [json.loads(line) for line in out.out.splitlines()], out.err


def faces_per_day(rows: list[dict[str, Any]], site: str) -> dict[str, int]:
    return {r["day"]: r["faces"] for r in rows if r["site_id"] == site}


def test_the_same_last_days_are_each_sites_own_local_days_to_the_half_hour(lake: str, capsys) -> None:
    """Tokyo's 2026-10-08 00:30 is 10-07 15:30 UTC, Los Angeles' 10-07 23:30 is 10-08 06:30 UTC: one
    period in one zone would count one of them wrongly."""
    rows, err = drift_rows(lake, capsys, "--since", "3d", "--until", "2026-10-08")
    for site, zone in ZONES.items():
        assert faces_per_day(rows, site) == OCTOBER_DAYS, site
        assert {r["timezone"] for r in rows if r["site_id"] == site} == {zone}
        assert f"site {site}: 2026-10-05 to 2026-10-07 (3 local days, {zone})" in err.splitlines()


def test_a_dst_week_is_seven_local_days_with_the_25_hour_day_whole(lake: str, capsys) -> None:
    rows, err = drift_rows(lake, capsys, "--since", "1w", "--until", "2026-11-05")
    assert faces_per_day(rows, "la-1") == DST_DAYS
    assert faces_per_day(rows, "tokyo-1") == DST_DAYS  # Tokyo keeps its clock: its days are plain 24 hours
    assert "site la-1: 2026-10-29 to 2026-11-04 (7 local days, America/Los_Angeles)" in err.splitlines()


def test_without_until_each_sites_period_ends_with_the_local_day_of_its_latest_face(lake: str, capsys) -> None:
    """Each site's latest face is its 2026-11-05 00:30: 15:30 UTC the day before in Tokyo, 08:30 UTC in
    Los Angeles."""
    rows, err = drift_rows(lake, capsys, "--since", "2d")
    assert faces_per_day(rows, "la-1") == {"2026-11-04": 130, "2026-11-05": 20}
    assert faces_per_day(rows, "tokyo-1") == {"2026-11-04": 130, "2026-11-05": 20}
    assert "site tokyo-1: 2026-11-04 to 2026-11-05 (2 local days, Asia/Tokyo)" in err.splitlines()


def test_the_table_says_which_local_days_each_site_covers(lake: str, capsys) -> None:
    capsys.readouterr()
    assert main(["model", "drift", "--lake", lake, "--site", "la-1", "--since", "2026-10-05", "--until",
                 "2026-10-07T08:00", "--min-faces", "1", "--exit-zero"]) == 0
    out = capsys.readouterr().out
    assert "site la-1: 2026-10-05 to 2026-10-07 (3 local days, America/Los_Angeles)" in out.splitlines()
    assert "tokyo-1" not in out


def test_cloudwatch_datapoints_are_stamped_at_the_start_of_each_sites_local_day(lake: str, capsys, aws_env) -> None:
    capsys.readouterr()
    assert main(["model", "drift", "--lake", lake, "--since", "3d", "--until", "2026-10-08", "--own-days", "0",
                 "--min-faces", "1", "--exit-zero", "--cloudwatch", "--endpoint-url", aws_env]) == 0
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_env)
    queries = [{"Id": site.replace("-", "_"), "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "Moodlens", "MetricName": "ModelDrift",
                   "Dimensions": [{"Name": "Site", "Value": site}, {"Name": "Camera", "Value": CAMERA}]},
        "Period": 60, "Stat": "Maximum"}} for site in ZONES]
    result = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
                                        EndTime=dt.datetime(2026, 10, 10, tzinfo=dt.UTC))
    stamps = {r["Id"]: sorted(r["Timestamps"]) for r in result["MetricDataResults"]}
    for site, zone in ZONES.items():
        local = [t.astimezone(ZoneInfo(zone)) for t in stamps[site.replace("-", "_")]]
        assert [t.date().isoformat() for t in local] == sorted(OCTOBER_DAYS), site
        assert all(t.time() == dt.time(0, 0) for t in local)
    # the same local date is 16 hours apart at the two sites
    assert stamps["la_1"][0] - stamps["tokyo_1"][0] == dt.timedelta(hours=16)


def test_a_bad_period_is_named_with_its_option_and_the_sites_last_day(lake: str, capsys) -> None:
    assert main(["model", "drift", "--lake", lake, "--until", "next tuesday"]) == 2
    assert "--until: 'next tuesday' is neither a number of days like 7d/2w nor a date" in capsys.readouterr().err
    assert main(["model", "drift", "--lake", lake, "--site", "la-1", "--since", "2026-11-06"]) == 2
    assert ("--since 2026-11-06 is not before the end of the period (site la-1: its last day is 2026-11-05, "
            "America/Los_Angeles)") in capsys.readouterr().err
    assert main(["model", "drift", "--lake", lake, "--reference", "2026-10-05..soon"]) == 2
    assert "--reference: 'soon' is neither" in capsys.readouterr().err
    assert main(["model", "drift", "--lake", lake, "--site", "nowhere"]) == 0
    assert capsys.readouterr().out == "no faces in the lake at site nowhere\n"


def due_run(lake: str, record: Path, utc: str, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch, *more: str) -> tuple[list[dict[str, Any]], str, str]:
    """One scheduled `--due` run with the clock at `utc`: its camera-days, its stdout and stderr."""
    capsys.readouterr()
    clock = int(dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC).timestamp() * 1000)
    monkeypatch.setattr(model_drift, "now", lambda: clock)
    assert main(["model", "drift", "--lake", lake, "--due", str(record), "--own-days", "0", "--min-faces", "1",
                 "--json", "--exit-zero", *more]) == 0
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines() if line.startswith("{")]
    return rows, out.out, out.err


def test_hourly_due_runs_judge_each_sites_days_once_as_they_end(lake: str, tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs at 40 past, some missed: Tokyo's day is judged at 15:40 UTC, Los Angeles' at 07:40 (summer) or
    08:40 (winter, the 25-hour day of 1 November included), each once, whole; a gap past 13 days is said."""
    record = tmp_path / "drift" / "judged-days.json"
    judged: list[tuple[str, str, int]] = []
    for utc in ("2026-10-05T16:40", "2026-10-05T17:40", "2026-10-07T15:40", "2026-10-07T16:40"):
        rows, _, _ = due_run(lake, record, utc, capsys, monkeypatch)
        judged += [(r["site_id"], r["day"], r["faces"]) for r in rows]
    assert sorted(judged) == sorted([("tokyo-1", d, n) for d, n in OCTOBER_DAYS.items()] + [("la-1", "2026-10-04", 10)]
                                    + [("la-1", d, OCTOBER_DAYS[d]) for d in ("2026-10-05", "2026-10-06")])
    assert json.loads(record.read_text()) == {"la-1": "2026-10-06", "tokyo-1": "2026-10-07"}
    _, out, _ = due_run(lake, record, "2026-10-07T16:40", capsys, monkeypatch)
    assert out.startswith("no local day due")

    _, _, err = due_run(lake, record, "2026-11-01T07:40", capsys, monkeypatch)
    assert "site la-1: 2026-10-07 to 2026-10-18 not judged (more than 13 days ago)" in err
    assert "site la-1: 2026-10-19 to 2026-10-31 (13 local days, America/Los_Angeles)" in err.splitlines()
    rows, _, _ = due_run(lake, record, "2026-11-02T07:40", capsys, monkeypatch)  # 23:40 on the 1st in LA
    assert [r for r in rows if r["site_id"] == "la-1"] == []
    rows, _, _ = due_run(lake, record, "2026-11-02T08:40", capsys, monkeypatch)
    assert faces_per_day(rows, "la-1") == {"2026-11-01": DST_DAYS["2026-11-01"]}


def test_due_refuses_a_period_and_names_a_bad_record(lake: str, tmp_path: Path, capsys) -> None:
    record = tmp_path / "judged.json"
    assert main(["model", "drift", "--lake", lake, "--due", str(record), "--since", "3d"]) == 2
    assert "--due judges the days each site ended since its last judged one" in capsys.readouterr().err
    record.write_text("[]")
    assert main(["model", "drift", "--lake", lake, "--due", str(record)]) == 2
    assert f"{record}: not a record of judged drift days" in capsys.readouterr().err


class Killed(BaseException):
    """The task killed (SIGKILL, the instance gone) between its metrics and its record."""


def killed(record: object, days: object) -> None:
    raise Killed


def test_a_run_killed_before_its_record_is_judged_again_and_the_alarms_maximum_stays(
        lake: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, aws_env: str) -> None:
    from batch.drift_due import JudgedDays

    record, cloudwatch_args = tmp_path / "judged.json", ("--site", "la-1", "--cloudwatch", "--endpoint-url", aws_env)
    with monkeypatch.context() as kill:
        kill.setattr(JudgedDays, "record", killed)
        with pytest.raises(Killed):
            due_run(lake, record, "2026-10-30T07:40", capsys, kill, *cloudwatch_args)
    assert not record.exists()
    rows, _, _ = due_run(lake, record, "2026-10-30T08:40", capsys, monkeypatch, *cloudwatch_args)
    assert [(r["day"], r["faces"]) for r in rows] == [("2026-10-29", DST_DAYS["2026-10-29"])]
    _, out, _ = due_run(lake, record, "2026-10-30T09:40", capsys, monkeypatch, *cloudwatch_args)
    assert out.startswith("no local day due")
    metric = {"Namespace": "Moodlens", "MetricName": "ModelDrift",
              "Dimensions": [{"Name": "Site", "Value": "la-1"}, {"Name": "Camera", "Value": CAMERA}]}
    result = boto3.client("cloudwatch", endpoint_url=aws_env).get_metric_data(
        MetricDataQueries=[{"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}
                           for stat in ("SampleCount", "Maximum")],
        StartTime=dt.datetime(2026, 10, 29, tzinfo=dt.UTC), EndTime=dt.datetime(2026, 10, 31, tzinfo=dt.UTC))
    put = {r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in result["MetricDataResults"]}
    start = dt.datetime(2026, 10, 29, 7, tzinfo=dt.UTC)  # the 29th's 00:00 in Los Angeles
    assert put["samplecount"] == {start: 2.0}  # put by both runs
    assert put["maximum"][start] == pytest.approx(rows[0]["psi"], abs=1e-4)  # the same value twice
