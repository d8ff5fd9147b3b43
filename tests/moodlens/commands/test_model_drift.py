"""`moodlens model drift` over a real lake (events compacted by `moodlens batch compact`)."""

import json

import boto3
import numpy as np

from locallog import LocalLog
from moodlens.cli import main
from tests.batch.drift_events import BASELINE, day_of_faces

SKEWED = np.array([0.02, 0.0, 0.01, 0.15, 0.02, 0.05, 0.75])  # a dim camera: everyone "neutral"


def lake_with_planted_drift(tmp_path, cameras=(("cam-a", BASELINE.shares), ("cam-b", SKEWED)), days=3):
    rng = np.random.default_rng(7)
    events = [e for camera, mix in cameras for day in range(days) for e in day_of_faces(rng, day, camera, mix, n=200)]
    log = LocalLog(tmp_path / "log")
    log.append([json.dumps(e).encode() for e in sorted(events, key=lambda e: e["event_time_ms"])])
    log.close()
    (tmp_path / "stream").mkdir()
    assert main(["batch", "compact", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "stream"),
                 "--lake", str(tmp_path / "lake")]) == 0
    return str(tmp_path / "lake")


def test_drift_is_reported_per_camera_day_and_exits_non_zero_when_found(tmp_path, capsys):
    lake = lake_with_planted_drift(tmp_path)
    capsys.readouterr()
    assert main(["model", "drift", "--lake", lake, "--since", "7d", "--json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    verdicts = {(r["camera_id"], r["day"]): r["verdict"] for r in rows}
    assert len(verdicts) == 6
    assert {v for (cam, _), v in verdicts.items() if cam == "cam-b"} == {"DRIFT"}
    assert "DRIFT" not in {v for (cam, _), v in verdicts.items() if cam == "cam-a"}
    out = tmp_path / "drift.json"
    assert main(["model", "drift", "--lake", lake, "--since", "7d", "--exit-zero", "--dashboard-json", str(out)]) == 0
    latest = json.loads(out.read_text())
    last_day = max(day for _, day in verdicts)
    assert latest["cam-b"]["verdict"] == "DRIFT" and latest["cam-b"]["day"] == last_day
    assert latest["cam-a"]["verdict"] != "DRIFT"


def test_a_sites_own_reference_period_is_a_fairer_baseline(tmp_path, capsys):
    lake = lake_with_planted_drift(tmp_path, cameras=(("cam-b", SKEWED),))  # this mix is normal here
    capsys.readouterr()
    assert main(["model", "drift", "--lake", lake, "--json"]) == 1  # against FER2013: drift every day
    days = sorted({json.loads(line)["day"] for line in capsys.readouterr().out.splitlines()})
    assert main(["model", "drift", "--lake", lake, "--site", "cafe-1",
                 "--reference", f"{days[0]}..{days[0]}T23:59:59"]) == 0
    out = capsys.readouterr().out
    assert f"baseline: reference {days[0]}" in out and "DRIFT" not in out


def test_drift_goes_to_cloudwatch_as_a_metric_per_site_and_camera(tmp_path, capsys, aws_env):
    lake = lake_with_planted_drift(tmp_path)
    assert main(["model", "drift", "--lake", lake, "--cloudwatch", "--endpoint-url", aws_env]) == 1
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_env)
    metrics = cloudwatch.list_metrics(Namespace="Moodlens", MetricName="ModelDrift")["Metrics"]
    cameras = {next(d["Value"] for d in m["Dimensions"] if d["Name"] == "Camera") for m in metrics}
    assert {"cam-a", "cam-b"} <= cameras
    fleet = cloudwatch.list_metrics(Namespace="Moodlens", MetricName="ModelDriftMax")["Metrics"]
    assert fleet and fleet[0]["Dimensions"] == []
    assert main(["model", "drift", "--lake", lake, "--exit-zero"]) == 0  # a scheduled run: the alarm tells


def test_a_card_without_a_baseline_and_a_bad_reference_are_named(tmp_path, capsys):
    lake = lake_with_planted_drift(tmp_path)
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"version": "x"}))
    assert main(["model", "drift", "--lake", lake, "--card", str(card)]) == 2
    assert "drift_baseline" in capsys.readouterr().err
    assert main(["model", "drift", "--lake", lake, "--reference", "2026-10-01"]) == 2
    assert "SINCE..UNTIL" in capsys.readouterr().err


def test_by_default_a_camera_is_judged_against_its_own_past_once_it_has_one(tmp_path, capsys):
    """A site whose normal mix is far from FER2013: against the card every day is drift (an alarm every
    day, soon ignored); against the camera's own previous days only its first days, before it has a past."""
    lake = lake_with_planted_drift(tmp_path, cameras=(("cam-b", SKEWED),), days=6)
    capsys.readouterr()
    assert main(["model", "drift", "--lake", lake, "--own-days", "0", "--json"]) == 1
    card_only = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["verdict"] for r in card_only} == {"DRIFT"} and len(card_only) == 6
    main(["model", "drift", "--lake", lake, "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    own = [r for r in rows if r["baseline"] == "own 14 days"]
    assert len(own) >= 3 and all(r["verdict"] != "DRIFT" for r in own)
    assert all(r["baseline"].startswith("model card") for r in rows if r not in own)
    assert main(["model", "drift", "--lake", lake, "--own-days", "-1"]) == 2
    assert "--own-days must be 0 or more" in capsys.readouterr().err


def test_drift_days_are_the_sites_local_days_from_the_site_file(tmp_path, capsys):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from tests.schemas.events import EVENT_TIME_MS, face_expression

    lake = lake_with_planted_drift(tmp_path, cameras=(("cam-a", BASELINE.shares),), days=2)
    site = face_expression()["site_id"]
    zone = "Pacific/Kiritimati"  # UTC+14: most UTC hours fall on the next local date
    (tmp_path / "moodlens.toml").write_text(f'[site]\nid = "{site}"\ntimezone = "{zone}"\n[lake]\npath = "{lake}"\n'
                                            '[[cameras]]\nid = "cam-a"\nsource = "0"\n')
    capsys.readouterr()
    assert main(["model", "drift", "--config", str(tmp_path / "moodlens.toml"), "--since", "7d", "--json",
                 "--exit-zero"]) == 0
    days = sorted(json.loads(line)["day"] for line in capsys.readouterr().out.splitlines())
    local = [(dt.datetime.fromtimestamp(EVENT_TIME_MS / 1000, ZoneInfo(zone)).date() + dt.timedelta(days=d)).isoformat()
             for d in range(2)]
    assert days == local
