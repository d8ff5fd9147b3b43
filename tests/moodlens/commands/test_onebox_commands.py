"""`moodlens up`, `dashboard` and `demo` refuse bad input with a message that says what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from moodlens.cli import main
from onebox.layout import lock


def test_up_with_a_wrong_site_file_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "moodlens.toml"
    site.write_text('[site]\nid = "cafe"\n[[cameras]]\nid = "door"\nsource = "0"\nfsp = 5\n')
    assert main(["up", "--config", str(site)]) == 2
    assert f"{site}:6: cameras[0].fsp: unknown setting (did you mean 'fps'?)" in capsys.readouterr().err
    assert main(["up", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "`moodlens init` writes a commented example" in capsys.readouterr().err


def test_up_with_a_busy_port_says_so_before_starting_anything(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        site = tmp_path / "moodlens.toml"
        site.write_text('[site]\nid = "cafe"\nstate_dir = "st"\n[[cameras]]\nid = "door"\nsource = "0"\n'
                        '[dashboard]\nport = 1\n')
        # 75, not 2: the shipped systemd unit tries again (RestartPreventExitStatus=2 is for a wrong site file)
        port = busy.getsockname()[1]
        assert main(["up", "--config", str(site), "--port", str(port)]) == 75
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}: the port is already in use" in err  # --port, the flag it suggests
    assert "[dashboard] port" in err
    assert "exit 75: under systemd (moodlens.service) `moodlens up` is tried again" in err  # not when run by hand
    assert not (tmp_path / "st" / "run" / "status.json").exists()  # no child was started
    lock(tmp_path / "st").close()  # and the state folder is free again


def test_dashboard_needs_a_state_folder_and_a_token_off_loopback(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--state", str(tmp_path / "nope")]) == 2
    assert "no state folder at" in capsys.readouterr().err
    assert main(["dashboard", "--state", str(tmp_path), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "needs a token" in capsys.readouterr().err


def test_a_demo_on_a_folder_in_use_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = lock(tmp_path / "state")
    try:
        assert main(["demo", "--state", str(tmp_path / "state"), "--port", "0"]) == 2
    finally:
        holder.close()
    assert "is already running on the state folder" in capsys.readouterr().err
