"""What runs around the frame loop: the status line and the model opened for the run."""

from __future__ import annotations

import io

import pytest

from edge.expression.classifier import ModelError
from edge.pipeline import PipelineStats
from edge.runtime import StatusLine, open_model
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


def test_a_broken_model_file_is_named_as_given_not_as_its_cached_copy(tmp_path):
    broken = tmp_path / "mine.onnx"
    broken.write_bytes(b"not an onnx model")
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as error:
        open_model(str(broken), None, 0, cache_dir=cache)
    assert str(broken) in str(error.value) and "not a loadable ONNX model" in str(error.value)
    assert str(cache) not in str(error.value)
