"""`moodlens edge run` and `moodlens edge bench`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from edge.pipeline import PipelineStats
from moodlens.cli import main
from moodlens.commands.edge import StatusLine
from schemas.validation import validate_event
from tests.edge.conftest import VIDEO, ListSink

CLIP = str(VIDEO / "single_face.mp4")


def edge_run(*extra: str) -> list[str]:
    return ["edge", "run", "--site", "cafe-1", "--camera", "cam-a", "--quiet", *extra]


def test_run_writes_valid_events_to_a_jsonl_file(random_model, tmp_path):
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", CLIP, "--model", str(random_model), "--output", str(out))) == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events and all(validate_event(e) == [] for e in events)
    assert {(e["site_id"], e["camera_id"]) for e in events} == {("cafe-1", "cam-a")}
    faces = [e for e in events if e["schema"] == "face_expression"]
    assert faces[-1]["kind"] == "track_end"
    assert events[-1]["schema"] == "camera_heartbeat"  # the closing heartbeat comes after every track_end


def test_run_to_stdout_with_annotation_and_zones(random_model, tmp_path, capsys):
    video = tmp_path / "annotated.mp4"
    code = main(edge_run("--source", CLIP, "--model", str(random_model), "--annotate", str(video), "--blur-faces",
                         "--zone", "door=0,0,1,1", "--max-frames", "30", "--update-interval", "0.5"))
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [e for e in lines if e["schema"] == "face_expression"]
    assert [e["kind"] for e in events].count("track_update") == 2  # 1 s of video, one every 0.5 s
    assert {e["zone"] for e in events} == {"door"}
    assert video.stat().st_size > 10_000


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "nowhere.mp4"], "not a file, folder, camera index"),
    (["--source", CLIP, "--exclude-zone", "0,0,2,2"], "fractions of the frame"),
    (["--source", CLIP, "--update-interval", "0"], "must be positive"),
    (["--source", CLIP, "--annotate", "out.gif"], "use a .mp4"),
])
def test_bad_input_is_a_clear_error(random_model, args, message, capsys):
    assert main(edge_run("--model", str(random_model), *args)) == 2
    assert message in capsys.readouterr().err


def test_missing_model_is_named(capsys, tmp_path):
    assert main(edge_run("--source", CLIP, "--model", str(tmp_path / "none.onnx"))) == 2
    assert "none.onnx does not exist" in capsys.readouterr().err


def test_bench_prints_the_figures(random_model, capsys):
    assert main(["edge", "bench", "--source", CLIP, "--model", str(random_model), "--max-frames", "24"]) == 0
    out = capsys.readouterr().out
    for figure in ("frames/s end to end", "faces found", "time per stage", "peak RSS", "per minute per face"):
        assert figure in out


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


@pytest.mark.parametrize("site", ["../../../escape", "x" * 300, "cafe\n"])
def test_edge_run_refuses_an_invalid_site_before_touching_the_disk(
        site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MOODLENS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MOODLENS_LOCAL_LOG", str(tmp_path / "log"))
    code = main(["edge", "run", "--source", str(tmp_path / "none.mp4"), "--site", site, "--camera", "door",
                 "--publisher", "local"])
    assert code == 2
    assert "invalid id: --site:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no spool, no log, nothing outside either
