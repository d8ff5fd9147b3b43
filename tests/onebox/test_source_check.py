"""`moodlens config check` checks what it can before anything runs: camera sources and alert URLs,
each problem with the site file's line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onebox.config import ConfigError, check_sources, load

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, cameras: str, alerts: str = "") -> Path:
    path = tmp_path / "moodlens.toml"
    path.write_text(f'[site]\nid = "cafe"\n{alerts}\n{cameras}', encoding="utf-8")
    return path


def test_sources_are_checked_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"x")
    (tmp_path / "face.jpg").write_bytes(b"x")
    devices = tmp_path / "dev"
    devices.mkdir()
    (devices / "video0").touch()
    path = write(tmp_path, "\n".join(f'[[cameras]]\nid = "c{i}"\nsource = "{source}"\n' for i, source in enumerate([
        "clips", "empty", "missing.mp4", "face.jpg", "0", "3", "rtsp://cam.local:554/stream1", "rtsp://:554/x",
        "rtsp://cam:99999/x", "awscam"])))
    problems = check_sources(load(path), cwd=tmp_path, devices=devices)
    text = "\n".join(problems)
    lines = {int(p.split(":")[1]) for p in problems}
    assert len(problems) == 6, text
    assert f"{path}:10: cameras[1].source: folder {tmp_path / 'empty'} holds no images or videos" in text
    assert f"{path}:14: cameras[2].source: no file or folder {tmp_path / 'missing.mp4'}" in text
    assert f"{path}:18: cameras[3].source: {tmp_path / 'face.jpg'} is a single image" in text
    assert f"{path}:26: cameras[5].source: camera index 3: there is no {devices}/video3" in text
    assert "(video devices here: video0)" in text
    assert f"{path}:34: cameras[7].source: rtsp:// URL without a host" in text
    assert f"{path}:38: cameras[8].source: rtsp:// URL does not parse" in text
    assert lines == {10, 14, 18, 26, 34, 38}


def test_a_file_relative_to_the_site_file_but_not_to_the_working_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "door.mp4").write_bytes(b"x")
    path = write(tmp_path / "site", '[[cameras]]\nid = "door"\nsource = "door.mp4"\n')
    problems = check_sources(load(path), cwd=tmp_path)
    assert len(problems) == 1 and f"there is one at {tmp_path / 'site' / 'door.mp4'}" in problems[0]


def test_a_bad_alert_url_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[cameras]]\nid = "door"\nsource = "0"\n',
                 'timezone = "Mars/Base"\n[alerts]\nurls = ["json://127.0.0.1:9/hook",\n        "nope://what"]')
    with pytest.raises(ConfigError) as error:
        load(path)
    text = str(error.value)
    assert f"{path}:5: alerts.urls[1]: Apprise cannot use this URL (scheme nope://)" in text
    assert f"{path}:3: site.timezone: 'Mars/Base' is not an IANA time zone" in text
    assert "alerts.urls[0]" not in text


def test_config_check_exits_1_naming_a_missing_camera_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[cameras]]\nid = "door"\nsource = "door.mp4"\n')
    result = subprocess.run([sys.executable, "-m", "moodlens.cli", "config", "check", "--config", str(path)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert f"{path}:6: cameras[0].source: no file or folder {tmp_path / 'door.mp4'}" in result.stderr
