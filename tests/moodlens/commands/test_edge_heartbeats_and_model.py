"""`moodlens edge run`: heartbeats on the source's timeline, and the model from a path or S3, verified and swapped."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.expression.classifier import DEFAULT_MODEL
from edge.frame import Frame
from edge.pipeline import PipelineStats
from locallog import LocalLog
from moodlens import __version__
from moodlens.cli import main
from schemas.validation import validate_event
from tests.edge.conftest import VIDEO
from tests.edge.model.test_store import tiny_onnx_model

CLIP = VIDEO / "single_face.mp4"  # 640x360, 30 fps, one frontal face
T0 = 1_760_000_000_000  # a wall-clock-like epoch ms for synthetic timelines


def edge_run(*extra: str) -> list[str]:
    return ["edge", "run", "--site", "cafe-1", "--camera", "cam-a", "--quiet", *extra]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def of(schema: str, events: list[dict]) -> list[dict]:
    return [e for e in events if e["schema"] == schema]


class FakeSource:
    """A frame source with a controlled timeline; `before(index)` runs before frame `index` is yielded."""

    description = "synthetic"
    fps = 10.0

    def __init__(self, images: list[np.ndarray], times_ms: list[int],
                 before: Callable[[int], None] | None = None) -> None:
        self.images, self.times_ms, self.before = images, times_ms, before

    def frames(self) -> Iterator[Frame]:
        for index, time_ms in enumerate(self.times_ms):
            if self.before is not None:
                self.before(index)
            yield Frame(self.images[index % len(self.images)], index, time_ms)

    def close(self) -> None:
        pass


def use_source(monkeypatch: pytest.MonkeyPatch, source: FakeSource) -> None:
    monkeypatch.setattr("edge.sources.open_source", lambda *args, **kwargs: source)


def clip_frames(count: int) -> list[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < count and (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return frames


BLANK = [np.zeros((90, 160, 3), dtype=np.uint8)]


# ------------------------------------------------------------------------------------------------ heartbeats


@pytest.mark.parametrize("publisher", ["jsonl", "spooled local log"])
def test_a_short_clip_publishes_contract_heartbeats_beside_its_face_events(random_model, tmp_path, monkeypatch,
                                                                            publisher):
    out = tmp_path / "events.jsonl"
    if publisher == "spooled local log":
        monkeypatch.setenv("MOODLENS_LOCAL_LOG", str(tmp_path / "log"))
    code = main(edge_run("--source", str(CLIP), "--model", str(random_model), "--output", str(out),
                         "--max-frames", "45", "--heartbeat-interval", "1"))
    assert code == 0
    if publisher == "jsonl":
        events = read_jsonl(out)
    else:
        assert not out.exists()
        with LocalLog(tmp_path / "log") as log:
            events = [json.loads(payload) for _, payload in log.read(0, 10_000)]
    beats, faces = of("camera_heartbeat", events), of("face_expression", events)
    assert faces and all(validate_event(e) == [] for e in events)

    # 45 frames at 30 fps (0 .. 1467 ms): the start one, one after 1 s of video, the closing one.
    assert len(beats) == 3
    times = [b["event_time_ms"] for b in beats]
    assert [t - times[0] for t in times] == [0, 1000, 1467]
    assert times[0] <= min(e["event_time_ms"] for e in faces)  # the same timeline as the face events
    assert {(b["site_id"], b["camera_id"]) for b in beats} == {("cafe-1", "cam-a")}
    assert [b["uptime_s"] for b in beats] == [0.0, 1.0, 1.467]
    assert beats[1]["fps"] == 30.0 and beats[2]["fps"] == pytest.approx(14 / 0.467, abs=0.01)
    assert 0 < sum(b["faces"] for b in beats) <= 45  # faces since the previous beat, adding up to the run's
    assert beats[1]["open_tracks"] == 1 and beats[-1]["open_tracks"] == 0  # the clip's one face; closed at the end
    assert {(b["model_version"], b["edge_version"], b["dropped_count"]) for b in beats} == {
        ("0.0.1", __version__, 0)}
    assert all(b["spool_depth"] >= 0 for b in beats)
    assert beats[-1] == events[-1]  # the closing heartbeat follows every track_end


@pytest.mark.parametrize(("interval", "times_ms", "expected"), [
    # a heartbeat at the first frame, then each `interval` of source time, then one at the end
    ("10", list(range(0, 25_001, 1000)), [0, 10_000, 20_000, 25_000]),
    # a short recording still gets one, and the end one
    ("30", [0, 100, 200], [0, 200]),
    # one frame: the start heartbeat already says everything
    ("30", [0], [0]),
    # gaps in the source: due on the first frame at least `interval` after the last beat
    ("5", [0, 4000, 12_000, 13_000, 25_000], [0, 12_000, 25_000]),
    # a frame exactly on the interval is due, and no closing duplicate for the same frame
    ("2", [0, 1000, 2000], [0, 2000]),
    ("0", list(range(0, 25_001, 1000)), []),  # 0 disables them
])
def test_heartbeats_follow_the_frames_time(random_model, tmp_path, monkeypatch, interval, times_ms, expected):
    use_source(monkeypatch, FakeSource(BLANK, [T0 + t for t in times_ms]))
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", "synthetic", "--model", str(random_model), "--output", str(out),
                         "--heartbeat-interval", interval)) == 0
    beats = of("camera_heartbeat", read_jsonl(out))
    assert [b["event_time_ms"] - T0 for b in beats] == expected
    assert all(validate_event(b) == [] for b in beats)
    assert [b["uptime_s"] for b in beats] == [t / 1000 for t in expected]


def test_heartbeat_rates_are_per_second_of_source_time(random_model, tmp_path, monkeypatch):
    # 10 fps for 10 s, then 2 fps for 10 s: processed in well under a second either way.
    times = list(range(0, 10_000, 100)) + list(range(10_000, 20_001, 500))
    use_source(monkeypatch, FakeSource(BLANK, [T0 + t for t in times]))
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", "synthetic", "--model", str(random_model), "--output", str(out),
                         "--heartbeat-interval", "10")) == 0
    beats = of("camera_heartbeat", read_jsonl(out))
    assert [(b["event_time_ms"] - T0, b["fps"], b["faces"]) for b in beats] == [
        (0, 0.0, 0), (10_000, 10.0, 0), (20_000, 2.0, 0)]


def test_live_heartbeats_are_on_the_wall_clock(random_model, tmp_path, monkeypatch):
    # A live source stamps frames with the wall clock when they are taken.
    def now() -> int:
        return int(time.time() * 1000)

    class Live(FakeSource):
        def frames(self) -> Iterator[Frame]:
            for index in range(3):
                yield Frame(BLANK[0], index, now())

    before = now()
    use_source(monkeypatch, Live(BLANK, []))
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", "0", "--model", str(random_model), "--output", str(out))) == 0
    beats = of("camera_heartbeat", read_jsonl(out))
    assert len(beats) == 2 and all(before <= b["event_time_ms"] <= now() for b in beats)


def test_the_status_line_still_sees_every_frame(random_model, tmp_path, monkeypatch):
    from moodlens.commands import edge  # the command module uses the StatusLine name it imported

    seen: list[int] = []

    class Recording(edge.StatusLine):
        def __call__(self, stats: PipelineStats) -> None:
            seen.append(stats.frames)

    monkeypatch.setattr(edge, "StatusLine", Recording)
    use_source(monkeypatch, FakeSource(BLANK, [T0 + 100 * i for i in range(5)]))
    args = ["edge", "run", "--site", "cafe-1", "--camera", "cam-a", "--source", "synthetic",
            "--model", str(random_model), "--output", str(tmp_path / "events.jsonl")]
    assert main(args) == 0
    assert seen == [1, 2, 3, 4, 5]


# ------------------------------------------------------------------------------------------------ the model


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_copy(folder: Path) -> Path:
    """The shipped model with its model card (expression.json, which carries its sha256)."""
    folder.mkdir()
    model = Path(shutil.copy(DEFAULT_MODEL, folder / "expression.onnx"))
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), folder / "expression.json")
    return model


def bare_copy(model: Path, folder: Path) -> Path:
    folder.mkdir()
    return Path(shutil.copy(model, folder / "model.onnx"))


def tampered_shipped_copy(tmp: Path, _: Path) -> Path:
    model = shipped_copy(tmp / "m")
    model.write_bytes(model.read_bytes() + b"\0")  # one byte more than the card's digest covers
    return model


def with_wrong_sidecar(tmp: Path, random_model: Path) -> Path:
    model = bare_copy(random_model, tmp / "m")
    model.with_name("model.onnx.sha256").write_text(f"{'0' * 64}  model.onnx\n")
    return model


SHIPPED_SHA = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())["sha256"]


@pytest.mark.parametrize(("setup", "extra", "error"), [
    # the shipped default, no flags: verified against its model card's digest
    (None, [], None),
    (lambda tmp, rnd: shipped_copy(tmp / "m"), [], None),
    (lambda tmp, rnd: shipped_copy(tmp / "m"), ["--model-sha256", SHIPPED_SHA.upper()], None),
    # a file that does not match what is published beside it (card, sidecar) or pinned is refused
    (tampered_shipped_copy, [], "expected " + SHIPPED_SHA),
    (with_wrong_sidecar, [], "expected " + "0" * 64),
    (lambda tmp, rnd: bare_copy(rnd, tmp / "m"), ["--model-sha256", "1" * 64], "expected " + "1" * 64),
    (lambda tmp, rnd: bare_copy(rnd, tmp / "m"), ["--model-sha256", "nope"], "sha256 digest"),
    # the operator's own local file with nothing published beside it: trusted (logged as unverified)
    (lambda tmp, rnd: bare_copy(rnd, tmp / "m"), [], None),
    # pinning its real digest makes it strict and still runs
    (lambda tmp, rnd: bare_copy(rnd, tmp / "m"), ["--model-sha256", "pin"], None),
])
def test_model_checksums(random_model, tmp_path, state_dir, capsys, setup, extra, error):
    model = DEFAULT_MODEL if setup is None else setup(tmp_path, random_model)
    extra = [sha(model) if value == "pin" else value for value in extra]
    out = tmp_path / "events.jsonl"
    model_args = [] if setup is None else ["--model", str(model)]
    code = main(edge_run("--source", str(CLIP), "--max-frames", "20", "--heartbeat-interval", "30",
                         "--output", str(out), *model_args, *extra))
    if error is not None:
        assert code == 2
        assert error in capsys.readouterr().err
        assert not out.exists() or not out.read_text()
        assert not list((state_dir / "models").glob("*.onnx"))  # nothing unverified is ever cached
        return
    assert code == 0
    events = read_jsonl(out)
    assert all(validate_event(e) == [] for e in events)
    versions = {e["model"]["version"] for e in of("face_expression", events)}
    versions |= {b["model_version"] for b in of("camera_heartbeat", events)}
    shipped = model.read_bytes() == DEFAULT_MODEL.read_bytes()
    shipped_version = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())["version"]
    assert versions == ({shipped_version} if shipped else {"0.0.1"})
    assert [p.name for p in (state_dir / "models").glob("*.onnx")] == [f"{sha(model)}.onnx"]


def test_an_unverified_local_model_is_logged(random_model, tmp_path, caplog):
    model = bare_copy(random_model, tmp_path / "m")
    with caplog.at_level(logging.WARNING, logger="edge.model.store"):
        assert main(edge_run("--source", str(CLIP), "--max-frames", "2", "--model", str(model),
                             "--output", str(tmp_path / "e.jsonl"))) == 0
    assert "unverified" in caplog.text


@pytest.mark.parametrize(("flag", "value"), [("--model-poll-interval", "-1"), ("--heartbeat-interval", "-5")])
def test_negative_intervals_are_refused(random_model, capsys, flag, value):
    assert main(edge_run("--source", str(CLIP), "--model", str(random_model), flag, value)) == 2
    assert "must be 0" in capsys.readouterr().err


@pytest.fixture
def s3_models(aws_env, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env)  # boto3 reads it: how `edge run` finds moto
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=aws_env)
    bucket = f"models-{time.time_ns()}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def upload(data: bytes, key: str = "expression.onnx", digest: str | None = "auto") -> str:
        s3.put_object(Bucket=bucket, Key=key + ".sha256",
                      Body=(hashlib.sha256(data).hexdigest() if digest == "auto" else digest or "").encode())
        if digest is None:
            s3.delete_object(Bucket=bucket, Key=key + ".sha256")
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"

    return upload


def test_an_s3_model_without_a_checksum_is_refused(s3_models, random_model, capsys):
    uri = s3_models(random_model.read_bytes(), digest=None)
    assert main(edge_run("--source", str(CLIP), "--model", uri)) == 2
    assert "no sha256" in capsys.readouterr().err


def test_a_missing_s3_model_is_a_clear_error(s3_models, capsys):
    uri = s3_models(b"x").replace("expression.onnx", "elsewhere.onnx")
    assert main(edge_run("--source", str(CLIP), "--model", uri)) == 2
    assert "elsewhere.onnx" in capsys.readouterr().err


def test_a_new_s3_version_is_swapped_in_mid_run_and_a_bad_one_is_refused(s3_models, tmp_path, monkeypatch):
    """Frames 0-10 run on version A; B is uploaded before frame 10 and used from frame 11; C (wrong sha256)
    is uploaded before frame 20 and refused: capture goes on with B to the end."""
    import edge.model.store

    a = tiny_onnx_model(tmp_path / "a.onnx", "1.0.0", bias=3).read_bytes()
    b = tiny_onnx_model(tmp_path / "b.onnx", "2.0.0", bias=6).read_bytes()
    c = tiny_onnx_model(tmp_path / "c.onnx", "3.0.0", bias=1).read_bytes()
    uri = s3_models(a)

    watchers: list[edge.model.store.ModelWatcher] = []
    real = edge.model.store.classifier_watcher
    monkeypatch.setattr(edge.model.store, "classifier_watcher",
                        lambda *args, **kwargs: watchers.append(real(*args, **kwargs)) or watchers[-1])

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, "the watcher never got there"
            time.sleep(0.01)

    def before(index: int) -> None:
        (watcher,) = watchers
        if index == 10:
            s3_models(b)
            wait_for(lambda: watcher.resolved.sha256 == hashlib.sha256(b).hexdigest())
        elif index == 20:
            s3_models(c, digest=hashlib.sha256(b"not c").hexdigest())  # the sidecar goes up first, then C
            wait_for(lambda: "expected" in (watcher.last_error or ""))

    times = [T0 + 100 * i for i in range(30)]
    use_source(monkeypatch, FakeSource(clip_frames(30), times, before))
    out = tmp_path / "events.jsonl"
    assert main(edge_run("--source", "synthetic", "--model", uri, "--output", str(out), "--model-poll-interval",
                         "0.02", "--update-interval", "0.1", "--classify-interval", "0.1",
                         "--heartbeat-interval", "1")) == 0
    events = read_jsonl(out)
    assert all(validate_event(e) == [] for e in events)
    updates = [e for e in of("face_expression", events) if e["kind"] == "track_update"]
    by_version = {(e["event_time_ms"] - T0) // 100: e["model"]["version"] for e in updates}
    before_swap = {frame: v for frame, v in by_version.items() if frame <= 10}
    after_swap = {frame: v for frame, v in by_version.items() if frame > 10}
    assert len(before_swap) >= 5 and len(after_swap) >= 15
    assert set(before_swap.values()) == {"1.0.0"}  # frame 10 was classified before the swap: still A
    assert set(after_swap.values()) == {"2.0.0"}  # never C
    # A's bias puts its top class at index 3 (happy), B's at 6 (neutral): the probabilities changed too.
    # (smoothing over about a second blends the two for a while after the swap)
    assert {e["top_class"] for e in updates if e["model"]["version"] == "1.0.0"} == {"happy"}
    assert updates[-1]["top_class"] == "neutral"
    beats = of("camera_heartbeat", events)
    assert [(b["event_time_ms"] - T0, b["model_version"]) for b in beats] == [
        (0, "1.0.0"), (1000, "1.0.0"), (2000, "2.0.0"), (2900, "2.0.0")]
    assert watchers[0].current().info.version == "2.0.0"
