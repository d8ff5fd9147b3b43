"""A child's output in the box's log: its own log lines keep their level and lose their own clock."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from onebox.children import edge_spec
from onebox.config import from_values
from onebox.layout import Layout
from onebox.processes import SubprocessSpawner

A_DATE = re.compile(r"^\d{4}-\d\d-\d\d")


def test_a_real_edges_warning_stays_a_warning_without_a_second_clock(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path)}},
                         [{"id": "door", "source": "rtsp://127.0.0.1:9/none"}])  # nothing answers there
    layout = Layout(config.state_dir)
    layout.make()
    with caplog.at_level(logging.INFO, logger="moodlens.child"):
        proc = SubprocessSpawner().spawn(edge_spec(config, config.cameras[0], layout))
        assert proc.wait(timeout=60) == 75
        deadline = time.monotonic() + 10  # the output is read on its own thread
        while not any("(FFmpeg/OpenCV) printed" in r.getMessage() for r in caplog.records) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if getattr(r, "child", None) == "edge-door"]
    assert ("ERROR", next(m for _, m in lines if m.startswith("moodlens: error: cannot open source"))) in lines
    warnings = [m for level, m in lines if "the video libraries (FFmpeg/OpenCV) printed" in m]
    assert warnings and all(m.startswith("WARNING moodlens.edge: ") for m in warnings), lines
    assert ("WARNING", warnings[0]) in lines
    assert not any(A_DATE.match(m) for _, m in lines), lines
