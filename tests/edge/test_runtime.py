"""What runs around the frame loop: the status line and the sink's depth."""

from __future__ import annotations

import io

from edge.pipeline import PipelineStats
from edge.runtime import StatusLine
from tests.edge.conftest import ListSink


class Spool(ListSink):
    def depth(self) -> int:
        return 7


def test_status_line_shows_fps_faces_tracks_and_spool_depth():
    stream = io.StringIO()
    status = StatusLine(Spool(), stream=stream, every_s=0.0)
    stats = PipelineStats(frames=10, faces=9, open_tracks=2)
    stats.events["track_update"] = 3
    status(stats)
    line = stream.getvalue()
    assert "frames 10" in line and "faces 9" in line and "tracks 2" in line and "events 3" in line
    assert "spool 7" in line and "fps" in line


class Publisher(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.spool = Spool()


def test_status_line_finds_the_depth_of_a_publishers_spool():
    stream = io.StringIO()
    StatusLine(Publisher(), stream=stream, every_s=0.0)(PipelineStats(frames=1))
    assert "spool 7" in stream.getvalue()
