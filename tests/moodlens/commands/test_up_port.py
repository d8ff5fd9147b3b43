"""`moodlens up --port` serves the dashboard on that port (what the busy-port message suggests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def test_up_serves_the_dashboard_on_the_port_given(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = tmp_path / "moodlens.toml"
    site.write_text('[site]\nid = "cafe"\n[lake]\ncompact_every_minutes = 0\n'
                    '[dashboard]\nport = 1\n[[cameras]]\nid = "door"\nsource = "missing.mp4"\n', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "moodlens.cli", "up", "--config", str(site), "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        page = b""
        while time.monotonic() < deadline and not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = response.read()
            except OSError:
                time.sleep(0.3)
        assert b"moodlens" in page
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert f"dashboard at http://127.0.0.1:{port}" in out.decode()
