"""`moodlens demo history`, `moodlens batch forecast|drivers` and `moodlens report` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from locallog import LocalLog
from moodlens.cli import main
from schemas.validation import validate_event


@pytest.fixture(scope="module")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    assert main(["demo", "history", "--sites", "2", "--days", "3", "--seed", "5", "--out", str(out)]) == 0
    return out


def test_history_writes_the_log_business_events_and_the_truth(small_history: Path) -> None:
    records = LocalLog(small_history / "log").read(0, 1_000_000)
    events = [json.loads(payload) for _, payload in records]
    assert len(events) > 500 and all(validate_event(e) == [] for e in events)
    assert {e["site_id"] for e in events} == {"cafe-central", "cinema-north"}
    times = [e["event_time_ms"] for e in events]
    assert times == sorted(times)  # in event time, as the stream's watermark likes it
    lines = (small_history / "business.csv").read_text().splitlines()
    assert lines[0] == "time,site,kind,value" and len(lines) > 10
    truth = json.loads((small_history / "truth.json").read_text())
    assert truth["planted_effects_on_net_score"]["new_playlist"] == 0.0
    assert {i["kind"] for i in truth["incidents"]} == {"model_upgrade", "bad_evening", "silent_camera"}


def test_forecast_on_three_days_says_there_is_too_little_history(small_history: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "forecast", "--log", str(small_history / "log")]) == 0
    out = capsys.readouterr().out
    assert out.count("no forecast: too little history") == 2


def test_drivers_with_a_bad_line_exits_non_zero_naming_it(small_history: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "business.csv"
    bad.write_text("time,site,kind,value\n2026-09-07T12:00:00Z,cafe-central,promotion,1\n"
                   "2026-09-07T13:00:00Z,cafe-central,promotion,yes\n")
    assert main(["batch", "drivers", "--log", str(small_history / "log"), "--events", str(bad)]) == 2
    assert f"{bad}: 1 bad line(s)" in capsys.readouterr().err
    assert main(["batch", "drivers", "--log", str(small_history / "log"),
                 "--events", str(small_history / "business.csv")]) == 0
    assert "not proof of cause" in capsys.readouterr().out


def test_report_on_an_unknown_site_lists_the_known_ones(small_history: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--log", str(small_history / "log"), "--site", "nowhere", "--out", str(tmp_path)])
    assert code == 2
    assert "unknown site 'nowhere'; known sites: cafe-central, cinema-north" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_report_writes_html_and_csvs(small_history: Path, tmp_path: Path) -> None:
    assert main(["report", "--log", str(small_history / "log"), "--since", "2d", "--site", "cafe-central",
                 "--out", str(tmp_path), "--events", str(small_history / "business.csv")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "cafe-central" in html and "too little history" in html
    assert (tmp_path / "hourly.csv").is_file() and (tmp_path / "drivers.csv").is_file()
    assert "Model drift (population stability index" in html
    drift = (tmp_path / "model_drift.csv").read_text().splitlines()
    assert drift[0].startswith("site,camera,day,faces") and drift[0].endswith(",baseline") and len(drift) > 1


def test_report_rejects_a_bad_period(small_history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--log", str(small_history / "log"), "--since", "last tuesday",
                 "--out", str(tmp_path)]) == 2
    assert "--since: 'last tuesday' is neither a duration" in capsys.readouterr().err


def test_invalid_records_in_the_log_are_quarantined_not_counted(tmp_path: Path) -> None:
    from batch.analytics.synthetic import HistoryConfig, generate_history

    events = generate_history(HistoryConfig(sites=1, days=1, seed=2, heartbeat_minutes=60)).events
    broken = dict(next(e for e in events if e["schema"] == "face_expression"), valence=7.0)
    with LocalLog(tmp_path / "log") as log:
        log.append([json.dumps(e).encode() for e in events] + [json.dumps(broken).encode(), b"{not json"])
    out = tmp_path / "report"
    assert main(["report", "--log", str(tmp_path / "log"), "--out", str(out), "--no-forecast"]) == 0
    quality = dict(line.rsplit(",", 1) for line in (out / "quality.csv").read_text().splitlines()[1:])
    assert quality["records in quarantine"] == "2"
    faces = sum(1 for e in events if e["schema"] == "face_expression")
    assert quality["events in face_expression"] == str(faces)


def test_history_can_end_today_to_sit_beside_live_events(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    assert main(["demo", "history", "--sites", "1", "--days", "1", "--end", "today", "--out", str(tmp_path)]) == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert truth["end_ms"] == int(today.timestamp() * 1000)
    assert main(["demo", "history", "--end", "someday", "--out", str(tmp_path)]) == 2


def test_the_report_from_the_lake_equals_the_report_from_the_log_it_was_compacted_from(
        small_history: Path, tmp_path: Path) -> None:
    log, state, lake = small_history / "log", tmp_path / "stream", tmp_path / "lake"
    assert main(["stream", "run", "--log", str(log), "--state", str(state), "--once", "--flush",
                 "--no-time-check"]) == 0
    assert main(["batch", "compact", "--log", str(log), "--state", str(state), "--lake", str(lake)]) == 0
    common = ["--since", "2d", "--events", str(small_history / "business.csv"), "--no-forecast"]
    assert main(["report", "--lake", str(lake), "--out", str(tmp_path / "from-lake"), *common]) == 0
    assert main(["report", "--log", str(log), "--stream-state", str(state), "--out", str(tmp_path / "from-log"),
                 *common]) == 0
    exports = sorted(p.name for p in (tmp_path / "from-lake").glob("*.csv"))
    assert "hourly.csv" in exports and "alarms.csv" in exports
    for name in exports:
        if name == "quality.csv":
            continue  # the lake also holds the stream's windows, which the log path does not load
        assert (tmp_path / "from-lake" / name).read_text() == (tmp_path / "from-log" / name).read_text(), name


def test_a_missing_lake_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--lake", str(tmp_path / "nolake"), "--since", "7d", "--out", str(tmp_path / "r")]) == 2
    assert "no lake at" in capsys.readouterr().err


def test_forecast_prints_each_site_in_its_own_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import re
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    zones = {"cafe-central": "Asia/Tokyo", "cinema-north": "America/New_York"}
    assert main(["demo", "history", "--sites", "2", "--days", "22", "--seed", "3", "--out", str(tmp_path)]) == 0
    sites = json.dumps({s: {"name": s, "timezone": z} for s, z in zones.items()})
    assert main(["batch", "compact", "--log", str(tmp_path / "log"), "--lake", str(tmp_path / "lake"),
                 "--sites", sites]) == 0
    capsys.readouterr()
    assert main(["batch", "forecast", "--lake", str(tmp_path / "lake"), "--hourly"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("history up to"))
    assert "the site's local time" not in header and "each site's lines below in its own time" in header
    assert not re.search(r"\b1 rolling weekly origins", out)
    events = [json.loads(p) for _, p in LocalLog(tmp_path / "log").read(0, 10_000_000)]
    for site, zone in zones.items():
        section = out.split(f"== {site}:")[1].split("\n== ")[0]
        assert f"times in {zone}" in section.splitlines()[0]
        printed = set(re.findall(r"^   \w{3} \d{4}-\d\d-\d\d (\d\d):00  visits", section, flags=re.MULTILINE))
        lived = {f"{datetime.fromtimestamp(e['event_time_ms'] / 1000, UTC).astimezone(ZoneInfo(zone)).hour:02d}"
                 for e in events if e["site_id"] == site and e.get("kind") == "track_end"}
        assert printed and printed <= lived  # forecast open hours are hours customers came, in the site's time


def test_every_demo_history_option_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "history", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--sites SITES", "--days DAYS", "--seed SEED", "--out OUT"):
        described = text.split(option)[-1].split(" --")[0].strip()  # the option's entry in the list
        assert described, f"{option} has no help text"


def test_a_second_history_in_the_same_folder_starts_the_stream_afresh(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def history_then_stream(seed: str) -> str:
        assert main(["demo", "history", "--sites", "1", "--days", "1", "--seed", seed, "--out", str(tmp_path)]) == 0
        assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "stream"), "--once",
                     "--flush", "--no-time-check"]) == 0
        captured = capsys.readouterr()
        return captured.out + captured.err

    history_then_stream("1")
    second = history_then_stream("2")
    records = len(LocalLog(tmp_path / "log").read(0, 10_000_000))
    assert f"read {records} records" in second and " 0 late events" in second  # not the first history's state


def test_report_and_forecast_read_the_lake_named_by_moodlens_lake(small_history: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lake = tmp_path / "lake"
    assert main(["batch", "compact", "--log", str(small_history / "log"), "--lake", str(lake)]) == 0
    common = ["--since", "2d", "--no-forecast"]
    assert main(["report", "--lake", str(lake), "--out", str(tmp_path / "named"), *common]) == 0
    monkeypatch.chdir(tmp_path)  # no site file and no var/history/log here: only the variable names the lake
    monkeypatch.setenv("MOODLENS_LAKE", str(lake))
    assert main(["report", "--out", str(tmp_path / "from-env"), *common]) == 0
    assert (tmp_path / "from-env" / "hourly.csv").read_text() == (tmp_path / "named" / "hourly.csv").read_text()
    assert main(["batch", "forecast"]) == 0


def test_stream_state_beside_a_lake_is_refused_not_ignored(small_history: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    lake = tmp_path / "lake"
    assert main(["batch", "compact", "--log", str(small_history / "log"), "--lake", str(lake)]) == 0
    capsys.readouterr()
    assert main(["report", "--lake", str(lake), "--stream-state", str(tmp_path / "stream"), "--since", "2d",
                 "--no-forecast", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--stream-state" in err and "batch compact" in err
    assert not (tmp_path / "r").exists()
