"""`moodlens up` on a full disk: it says so plainly, keeps its children running, loses no alarm, and
recovers when space comes back. The writes fail for real (ENOSPC from /dev/full) where a file is the point."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from onebox.box import Box
from onebox.camera_watch import CAMERA_ALARMS
from onebox.config import SiteConfig, from_values
from onebox.disk_budget import MIB, FileSystem
from tests.onebox.test_supervisor import FakeClock, FakeSpawner

FULL = Path("/dev/full")  # every write to it fails with ENOSPC
START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")


def _config(state: Path) -> SiteConfig:
    return from_values({"site": {"id": "cafe", "state_dir": str(state)}, "thresholds": {"silent_minutes": 1},
                        "disk": {"budget_mb": 100}}, [{"id": "door", "source": "0"}])


def _box(state: Path, clock: list[dt.datetime], file_system: FileSystem | None = None) -> Box:
    box = Box(_config(state), FakeSpawner(), FakeClock(), now=lambda: clock[0], jobs_enabled=False,
              file_system=lambda path: file_system)
    box.start()
    return box


def test_a_full_disk_under_the_status_file_stops_nothing_and_the_status_comes_back(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    box = _box(tmp_path / "s", [START])
    temp = box.layout.status.with_suffix(".tmp")
    temp.symlink_to(FULL)
    with caplog.at_level(logging.WARNING, logger="moodlens.up"):
        box.write_status(force=True)
        box.step()
        assert caplog.text.count("cannot write the status for the dashboard") == 1
        assert all(box.supervisor.running(name) for name in ("edge-door", "stream"))
        before = box.layout.status.stat().st_mtime_ns if box.layout.status.exists() else None
        assert not temp.exists()  # the failed write's temp file is gone: space comes back, the next write goes
        box.write_status(force=True)
    assert "written again" in caplog.text
    assert box.layout.status.stat().st_mtime_ns != before
    assert json.loads(box.layout.status.read_text())["site"] == "cafe"


def test_camera_alarms_a_full_disk_kept_out_of_their_file_are_written_when_space_is_back(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = [START]
    box = _box(tmp_path / "s", clock)
    alarms = box.layout.run / CAMERA_ALARMS
    alarms.symlink_to(FULL)
    clock[0] = START + dt.timedelta(minutes=2)  # the camera has sent nothing for 2 minutes: raised
    with caplog.at_level(logging.ERROR, logger="moodlens.up"):
        raised = box.check_cameras()
    assert [a["state"] for a in raised] == ["ALARM"] and "cannot write 1 camera alarm change(s)" in caplog.text
    alarms.unlink()
    box.check_cameras()  # nothing new, but the kept raise is written
    written = [json.loads(line) for line in alarms.read_text().splitlines()]
    assert [(a["camera_id"], a["state"]) for a in written] == [("door", "ALARM")]
    box.check_cameras()
    assert len(alarms.read_text().splitlines()) == 1  # once


def test_a_file_system_filled_by_others_is_full_on_the_page_whatever_the_budget_says(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "s"
    full = FileSystem(total_bytes=1024 * MIB, free_bytes=3 * MIB)
    box = _box(state, [START], full)
    (box.layout.logs / "moodlens.log.1").write_bytes(b"x" * 1000)
    with caplog.at_level(logging.WARNING, logger="moodlens.up"):
        assessment = box.check_disk()
    assert assessment.level == "full" and assessment.to_json()["free_mb"] == 3.0
    assert "the disk is full: 3.0 MiB free of 1024 MiB" in caplog.text and str(state) in caplog.text
    assert not (box.layout.logs / "moodlens.log.1").exists()  # what the box may free, it frees
    box.write_status(force=True)
    assert json.loads(box.layout.status.read_text())["disk"]["level"] == "full"
    box.file_system = lambda path: FileSystem(total_bytes=1024 * MIB, free_bytes=300 * MIB)
    with caplog.at_level(logging.WARNING, logger="moodlens.up"):
        assert box.check_disk().level == "ok"
    assert "disk space is back" in caplog.text


@pytest.mark.parametrize(("total", "free", "full"), [(20 * MIB, 300 * 1024, True), (20 * MIB, 1 * MIB, False),
                                                     (100_000 * MIB, 63 * MIB, True),
                                                     (100_000 * MIB, 65 * MIB, False)])
def test_a_file_system_is_full_below_two_percent_free_and_at_most_64_mib(total: int, free: int, full: bool) -> None:
    assert FileSystem(total, free).full is full
