"""FFmpeg/OpenCV messages written straight to file descriptor 2 are captured and told in one line."""

from __future__ import annotations

import logging
import os

import cv2

from edge.native_log import native_stderr_captured
from tests.edge.conftest import VIDEO


def test_c_level_messages_are_captured_and_summarised(caplog):
    with caplog.at_level(logging.WARNING, logger="moodlens.edge"), native_stderr_captured() as messages:
        os.write(2, b"[mov,mp4] moov atom not found\n")
        os.write(2, b"[mov,mp4] moov atom not found\n")
        os.write(2, b"[h264] decode_slice_header error\n")
    assert messages.total == 3 and messages.lines["[mov,mp4] moov atom not found"] == 2
    summaries = [r.getMessage() for r in caplog.records if "video libraries" in r.getMessage()]
    assert len(summaries) == 1 and "3 messages" in summaries[0] and "moov atom not found" in summaries[0]


def test_ffmpeg_complaining_about_a_cut_file_reaches_us_not_the_terminal(tmp_path, capfd):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes((VIDEO / "single_face.mp4").read_bytes()[:5000])  # the start only, cut short
    with native_stderr_captured() as messages:
        capture = cv2.VideoCapture(str(broken))
        capture.read()
        capture.release()
    assert messages.total >= 1  # FFmpeg/OpenCV did complain ...
    assert capfd.readouterr().err == ""  # ... into our capture, not onto the terminal


def test_nothing_said_nothing_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="moodlens.edge"), native_stderr_captured() as messages:
        pass
    assert messages.total == 0 and not caplog.records


def test_a_handler_made_inside_the_capture_writes_to_stderr_afterwards(monkeypatch):
    root = logging.getLogger()
    fake_stderr = os.fdopen(2, "w", closefd=False)
    monkeypatch.setattr("sys.stderr", fake_stderr)  # on fd 2 itself, as in a terminal session
    with native_stderr_captured():
        import sys

        handler = logging.StreamHandler(sys.stderr)  # what logging.basicConfig does inside `edge run`
        root.addHandler(handler)
    try:
        assert handler.stream is fake_stderr  # not the capture's stream, closed by now
        handler.stream.write("")
    finally:
        root.removeHandler(handler)
        fake_stderr.close()
