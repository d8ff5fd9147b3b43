"""Secrets on the box: a camera password never in a command line or the log, the site file owner-only,
the dashboard token never printed and never weak off loopback."""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from moodlens.cli import main
from onebox import logs
from onebox.children import edge_spec
from onebox.config import ConfigError, from_values, load, parse
from onebox.dashboard.app import create_app
from onebox.dashboard.server import state_for
from onebox.layout import Layout
from onebox.processes import SubprocessSpawner

PASSWORD = "hunter2-Zq9"  # nosec B105: a test camera's password, to be looked for where it must not be
CLIP = Path(__file__).resolve().parents[2] / "data" / "video" / "single_face.mp4"
SOURCE = f"rtsp://admin:{PASSWORD}@127.0.0.1:9/stream1"  # port 9 (discard): nothing answers RTSP there


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_cameras_password_is_in_no_command_line_and_no_log_line(tmp_path: Path) -> None:
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path)}},
                         [{"id": "door", "source": SOURCE}])
    layout = Layout(tmp_path)
    spec = edge_spec(config, config.cameras[0], layout, extra=("--reconnect-attempts", "1", "--heartbeat-interval",
                                                                "0"))
    assert PASSWORD not in " ".join(spec.argv)  # /proc/<pid>/cmdline and `ps` show exactly these
    logs.setup(layout.logs, console=False)
    try:
        proc = SubprocessSpawner({**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).spawn(spec)
        with open(f"/proc/{proc.pid}/cmdline", "rb") as handle:
            assert PASSWORD.encode() not in handle.read()
        assert proc.wait(timeout=120) != 0  # nothing answers: the edge says so and exits
    finally:
        for handler in logging.getLogger("moodlens").handlers:
            handler.flush()
        logs.teardown()
    log_file = layout.logs / logs.LOG_FILE
    text = log_file.read_text(encoding="utf-8")
    assert "admin:***@127.0.0.1:9/stream1" in text  # the edge did name its source, masked
    assert PASSWORD not in text
    assert _mode(log_file) == 0o600


def test_the_box_log_masks_a_password_in_any_record(tmp_path: Path) -> None:
    logs.setup(tmp_path, console=False)
    log = logging.getLogger("moodlens.test")
    try:
        log.info("opening %s", SOURCE, extra={"child": "edge-door"})
        try:
            raise OSError(f"cannot reach {SOURCE}")
        except OSError:
            log.exception("failed")
    finally:
        logs.teardown()
    text = (tmp_path / logs.LOG_FILE).read_text(encoding="utf-8")
    assert text.count("admin:***@") == 2 and PASSWORD not in text


def test_init_writes_the_site_file_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "moodlens.toml"
    assert main(["init", str(path)]) == 0
    assert _mode(path) == 0o600
    path.chmod(0o644)
    assert main(["init", str(path), "--force"]) == 0
    assert _mode(path) == 0o600


def test_config_show_prints_neither_the_token_nor_a_cameras_password(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    token = "f3a9c1d27be04e6a"  # nosec B105
    path = tmp_path / "moodlens.toml"
    path.write_text(f'[site]\nid = "shop"\n[dashboard]\nhost = "0.0.0.0"\ntoken = "{token}"\n'
                    f'[[cameras]]\nid = "c"\nsource = "{SOURCE}"\n')
    path.chmod(0o600)
    monkeypatch.setenv("MOODLENS_DASHBOARD_TOKEN", "env-token-0b8e7d6c5a")
    monkeypatch.setenv("MOODLENS_EDGE_SOURCE", SOURCE)
    assert main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert token not in out and "env-token-0b8e7d6c5a" not in out and PASSWORD not in out
    assert "\n  token = (set, 16 characters, hidden)  (default \"\")\n" in out
    assert '\n[[cameras]]\n  id = "c"  (required)\n' in out
    assert '\n  source = "rtsp://admin:***@127.0.0.1:9/stream1"  (required)\n' in out


@pytest.mark.parametrize("token", ["", "   ", "x", "s3cret", "aaaaaaaaaaaaaaaaaaaa", "passwordpassword",
                                   "1212121212121212"])
def test_config_check_refuses_a_weak_token_off_loopback(tmp_path: Path, token: str) -> None:
    text = (f'[site]\nid = "shop"\n[dashboard]\nhost = "0.0.0.0"\ntoken = "{token}"\n'
            '[[cameras]]\nid = "c"\nsource = "0"\n')
    with pytest.raises(ConfigError, match=r"dashboard\.(host|token): .*(needs a token|too weak)"):
        parse(text, tmp_path / "site.toml")
    parse(text.replace("0.0.0.0", "127.0.0.1"), tmp_path / "site.toml")  # loopback needs none
    parse(text.replace(f'token = "{token}"', 'token = "9f86d081884c7d65"'), tmp_path / "site.toml")


def test_a_weak_token_from_the_environment_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODLENS_DASHBOARD_TOKEN", "abc")
    text = '[site]\nid = "shop"\n[dashboard]\nhost = "0.0.0.0"\n[[cameras]]\nid = "c"\nsource = "0"\n'
    with pytest.raises(ConfigError, match="MOODLENS_DASHBOARD_TOKEN: too weak"):
        parse(text, tmp_path / "site.toml")


def test_the_dashboard_itself_refuses_a_weak_token_off_loopback(tmp_path: Path) -> None:
    (tmp_path / "stream").mkdir()
    with pytest.raises(ValueError, match="too weak"):
        create_app(state_for(tmp_path, None), host="0.0.0.0", token="1")  # nosec B104
    create_app(state_for(tmp_path, None), host="0.0.0.0", token="9f86d081884c7d65")  # nosec B104


@pytest.mark.parametrize(("extra", "what"), [('[dashboard]\ntoken = "9f86d081884c7d65"\n', "the dashboard token"),
                                             ("", "a password in cameras\\[0\\].source")])
def test_a_site_file_holding_a_secret_must_be_owner_only(tmp_path: Path, extra: str, what: str) -> None:
    path = tmp_path / "moodlens.toml"
    source = SOURCE if not extra else str(CLIP)  # a source config check finds, so only the mode is at stake
    path.write_text(f'[site]\nid = "shop"\n{extra}[[cameras]]\nid = "c"\nsource = "{source}"\n')
    path.chmod(0o640)
    with pytest.raises(ConfigError, match=rf"holds {what} and other users may read it \(mode 640\): chmod 600"):
        load(path)
    assert main(["config", "check", "--config", str(path)]) == 2
    path.chmod(0o600)
    load(path)
    assert main(["config", "check", "--config", str(path)]) == 0


def test_a_site_file_without_secrets_may_be_read_by_others(tmp_path: Path) -> None:
    path = tmp_path / "moodlens.toml"
    path.write_text('[site]\nid = "shop"\n[[cameras]]\nid = "c"\nsource = "rtsp://192.168.1.20/s"\n')
    path.chmod(0o644)
    assert load(path).cameras[0].source == "rtsp://192.168.1.20/s"
