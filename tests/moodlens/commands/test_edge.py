"""`moodlens edge run` and `moodlens edge bench`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from moodlens.cli import main
from schemas.validation import validate_event
from tests.edge.conftest import VIDEO

CLIP = str(VIDEO / "single_face.mp4")
REPO = Path(__file__).resolve().parents[3]


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
    (["--source", CLIP, "--still-search-interval", "-1"], "--still-search-interval must be 0 or more seconds"),
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
    for figure in ("frames/s end to end", "faces found", "full searches", "time per stage", "peak RSS",
                   "per minute per face"):
        assert figure in out


# ------------------------------------------------------------------------------------------------ as a user meets it


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--max-frames", "-1", "must be 1 or more, got -1"), ("--max-frames", "0", "must be 1 or more"),
    ("--fps", "0", "must be above 0"), ("--folder-fps", "abc", "expected a number"),
])
def test_bad_numbers_are_refused_before_anything_runs(random_model, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        main(edge_run("--source", CLIP, "--model", str(random_model), option, value))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert option in err and message in err


def test_help_states_the_image_folders_assumed_rate_and_the_sampling_option(capsys):
    with pytest.raises(SystemExit):
        main(["edge", "run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "assumed taken at this rate (default 10 frames/s)" in text
    assert "--fps" in text and "yunet" in text


def test_fps_samples_a_video_file_at_the_chosen_rate(random_model, tmp_path, caplog):
    out = tmp_path / "events.jsonl"
    with caplog.at_level(logging.INFO, logger="moodlens.edge"):
        assert main(edge_run("--source", CLIP, "--model", str(random_model), "--fps", "5", "--output", str(out))) == 0
    assert "edge run done: 12 frames" in caplog.text  # 2.4 s of a 30 frames/s clip at 5 frames/s


def test_summary_prints_one_row_per_visit_after_the_run(random_model, tmp_path, capsys):
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", CLIP, "--model", str(random_model), "--summary", "--output", str(out))) == 0
    table = capsys.readouterr().out.splitlines()
    ends = [json.loads(line) for line in out.read_text().splitlines() if '"track_end"' in line]
    assert table[0].split()[:4] == ["track", "start", "end", "duration"]
    assert len(ends) >= 1 and table[-1] == (f"{len(ends)} visits" if len(ends) > 1 else "1 visit")
    assert table[2].split()[0] == ends[0]["track_id"] and ends[0]["top_class"] in table[2]


def test_a_folder_of_videos_plays_each_in_turn_as_one_camera(random_model, tmp_path, capsys):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "1.mp4").write_bytes((VIDEO / "single_face.mp4").read_bytes())  # 72 frames, 640x360
    (folder / "2.mov").write_bytes((VIDEO / "face_noface.mov").read_bytes())  # 960x540, a face from the start
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", str(folder), "--model", str(random_model), "--output", str(out), "--summary",
                         "--max-frames", "96")) == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert {e["camera_id"] for e in events} == {"cam-a"}
    visits = [e for e in events if e.get("kind") == "track_end"]
    assert len(visits) == 2  # one visit per file: the second file's other frame size starts a new track
    assert visits[0]["event_time_ms"] < visits[1]["event_time_ms"]


def test_a_folder_mixing_images_and_videos_is_refused(random_model, tmp_path, capsys):
    for name in ("single_face.jpg", "single_face.mp4"):
        (tmp_path / name).write_bytes((VIDEO / name).read_bytes())
    assert main(edge_run("--source", str(tmp_path), "--model", str(random_model))) == 2
    assert "holds 1 images and 1 videos" in capsys.readouterr().err


def test_a_broken_model_file_is_named_as_the_user_gave_it(tmp_path, capsys):
    broken = tmp_path / "mine.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    assert main(edge_run("--source", CLIP, "--model", str(broken))) == 2
    err = capsys.readouterr().err
    assert f"model file {broken} is not a loadable ONNX model" in err and "state" not in err


def test_piping_into_head_ends_quietly(random_model, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.mp4").write_bytes((VIDEO / "single_face.mp4").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "moodlens.cli", *edge_run("--source", str(folder), "--model", str(random_model),
                                                              "--heartbeat-interval", "0.001", "--detector", "haar")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # like `head -1`: one line, then the reader goes away
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert json.loads(first)["schema"] == "camera_heartbeat"
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_a_camera_that_stops_delivering_is_a_clear_error_after_its_events(random_model, tmp_path, monkeypatch,
                                                                           capsys):
    from edge.frame import Frame
    from edge.sources import SourceError

    class Vanishing:
        description = "camera 0"
        fps = 10.0

        def frames(self):
            capture = cv2.VideoCapture(CLIP)
            for index in range(20):
                image = capture.read()[1]
                yield Frame(image, index, 1_790_000_000_000 + 100 * index)
            capture.release()
            raise SourceError("camera 0: lost after 20 frames and 10 reconnect attempts failed")

        def close(self) -> None:
            pass

    monkeypatch.setattr("edge.sources.open_source", lambda *args, **kwargs: Vanishing())
    out = tmp_path / "events.jsonl"
    # 75 (try again later), not 2 (configuration error): the box restarts a lost camera
    assert main(edge_run("--source", "0", "--model", str(random_model), "--output", str(out))) == 75
    assert "camera 0: lost after 20 frames" in capsys.readouterr().err
    kinds = [json.loads(line).get("kind") for line in out.read_text().splitlines()]
    assert "track_end" in kinds  # the visit in progress was closed and published before the error


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
