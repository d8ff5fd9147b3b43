"""Frame sources, including bad input: unopenable, vanishing cameras, corrupt frames."""

from __future__ import annotations

import itertools
import logging
import shutil
import sys
import types

import numpy as np
import pytest

from edge.frame import Frame
from edge.sources import (
    AwsCamSource,
    ImageFolderSource,
    ReconnectPolicy,
    SourceError,
    VideoCaptureSource,
    VideoFolderSource,
    open_source,
    paced,
    sampled,
)
from tests.edge.conftest import VIDEO

IMAGE = np.zeros((36, 64, 3), np.uint8)


@pytest.fixture
def folders(tmp_path):
    """An image folder, a video folder, and a folder holding both."""
    for name, files in {"images": ["single_face.jpg", "multi_face.jpg"],
                        "videos": ["single_face.mp4", "face_noface.mov"],
                        "mixed": ["single_face.jpg", "single_face.mp4"]}.items():
        (tmp_path / name).mkdir()
        for file in files:
            shutil.copy(VIDEO / file, tmp_path / name / file)
    return tmp_path


@pytest.mark.parametrize(("spec", "kind"), [
    (str(VIDEO / "single_face.mp4"), VideoCaptureSource),
    ("images", ImageFolderSource),
    ("videos", VideoFolderSource),
])
def test_open_source_picks_the_kind(spec, kind, folders):
    source = open_source(spec if spec.endswith(".mp4") else str(folders / spec))
    assert isinstance(source, kind)
    source.close()


def test_a_folder_of_images_and_videos_is_refused_with_the_counts(folders):
    with pytest.raises(SourceError, match="holds 1 images and 1 videos: a folder is either images"):
        open_source(str(folders / "mixed"))


def test_a_video_folder_plays_each_file_in_turn_on_one_timeline(folders, caplog):
    caplog.set_level(logging.INFO)
    (folders / "videos" / "broken.mp4").write_bytes(b"not a video")
    source = VideoFolderSource(folders / "videos", start_ms=1_000_000)
    frames = list(source.frames())
    source.close()
    assert len(frames) == 169 + 72  # face_noface.mov, then single_face.mp4 (name order); broken.mp4 skipped
    assert [f.index for f in frames] == list(range(len(frames)))
    times = [f.time_ms for f in frames]
    assert times[0] == 1_000_000 and all(b > a for a, b in itertools.pairwise(times))
    assert {f.width for f in frames} == {960, 640}  # the frame size changes where the second file starts
    assert "broken.mp4" in caplog.text and "skipped" in caplog.text


@pytest.mark.parametrize("image", [
    np.full((36, 64), 90, np.uint8),  # gray
    np.full((36, 64), 90 * 256, np.uint16),  # 16-bit gray
    np.full((36, 64, 3), 90 * 256, np.uint16),  # 16-bit colour
    np.full((36, 64, 4), 90, np.uint8),  # BGRA
])
def test_gray_16_bit_and_bgra_frames_arrive_as_8_bit_bgr(image):
    source, _ = live_source([FakeCapture([image, IMAGE])], attempts=1)
    frames = []
    with pytest.raises(SourceError):
        for frame in source.frames():
            frames.append(frame)
    assert len(frames) == 2
    assert frames[0].image.shape == (36, 64, 3) and frames[0].image.dtype == np.uint8
    assert int(frames[0].image.mean()) == 90


def test_sampling_keeps_the_chosen_rate_on_the_frames_own_time():
    thirty = frames_at([round(i * 1000 / 30) for i in range(90)])  # 3 s at 30 frames/s
    kept = list(sampled(thirty, 5.0))
    assert [f.index for f in kept] == list(range(0, 90, 6))
    assert list(sampled(thirty, None)) == thirty
    assert len(list(sampled(thirty, 100.0))) == 90  # faster than the source: every frame
    with pytest.raises(ValueError, match="--fps must be positive"):
        list(sampled(thirty, 0.0))


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty --source"),
    ("no/such/file.mp4", "not a file, folder, camera index"),
    (str(VIDEO / "single_face.jpg"), "single image"),
    (str(VIDEO / "ATTRIBUTION.md"), "cannot open source"),
    ("awscam", "only the AWS DeepLens"),
])
def test_unopenable_sources_fail_with_a_clear_error(spec, message):
    with pytest.raises(SourceError, match=message):
        open_source(spec)


def test_video_file_gives_every_frame_on_the_video_timeline():
    source = VideoCaptureSource(str(VIDEO / "single_face.mp4"), live=False, start_ms=1_000_000)
    frames = list(source.frames())
    source.close()
    assert len(frames) == 72
    assert [f.index for f in frames[:3]] == [0, 1, 2]
    assert frames[0].time_ms == 1_000_000
    assert frames[30].time_ms == pytest.approx(1_000_000 + 1000, abs=2)  # 30 fps
    assert (frames[0].width, frames[0].height) == (640, 360)


def test_frame_repr_never_shows_pixels():
    assert repr(Frame(np.full((2, 2, 3), 7, np.uint8), 3, 123)) == "Frame(index=3, time_ms=123, size=2x2)"


class FakeCapture:
    """Scripted reads: an ndarray is a frame, None a failed read, anything else a corrupt frame."""

    def __init__(self, script: list, opened: bool = True) -> None:
        self.script = list(script)
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self):
        if not self.script:
            return False, None
        item = self.script.pop(0)
        if item is None:
            return False, None
        return True, item

    def get(self, prop: int) -> float:
        return 25.0

    def release(self) -> None:
        self.released = True


def live_source(captures: list[FakeCapture], attempts: int = 3, bad: int = 3):
    pending = list(captures)
    sleeps: list[float] = []
    source = VideoCaptureSource(
        0, live=True,
        reconnect=ReconnectPolicy(first_delay_s=0.5, max_delay_s=4, max_attempts=attempts, max_bad_frames=bad),
        open_capture=lambda target: pending.pop(0) if pending else FakeCapture([], opened=False),
        sleep=sleeps.append, now_ms=iter(range(0, 10**6, 40)).__next__)
    return source, sleeps


def test_camera_that_disappears_reconnects_with_backoff_and_logs_it(caplog):
    caplog.set_level(logging.WARNING)
    source, sleeps = live_source([FakeCapture([IMAGE, IMAGE, None]), FakeCapture([], opened=False),
                                  FakeCapture([], opened=False), FakeCapture([IMAGE])], attempts=5)
    frames = []
    with pytest.raises(SourceError, match="camera 0: lost after 3 frames and 5 reconnect attempts failed"):
        for frame in source.frames():
            frames.append(frame)
    assert len(frames) == 3  # two before the drop, one after the reconnect
    assert sleeps[:3] == [0.5, 1.0, 2.0]  # backoff doubles ...
    assert max(sleeps) == 4  # ... up to its cap
    assert "reconnecting in 0.5 s (attempt 1 of 5)" in caplog.text
    assert "reconnected" in caplog.text


def test_corrupt_frames_are_skipped_and_logged(caplog):
    caplog.set_level(logging.WARNING)
    corrupt = np.zeros((10, 10), np.float32)
    source, _ = live_source([FakeCapture([IMAGE, corrupt, "garbage", IMAGE])], attempts=1)
    with pytest.raises(SourceError):
        frames = []
        for frame in source.frames():
            frames.append(frame)
    assert len(frames) == 2
    assert "unusable frame after 1 frames (array (10, 10) float32)" in caplog.text


def test_endless_corrupt_frames_count_as_a_lost_camera():
    source, sleeps = live_source([FakeCapture(["bad"] * 10)], attempts=1, bad=3)
    with pytest.raises(SourceError, match="lost after 0 frames"):
        list(source.frames())
    assert sleeps == [0.5]


def test_truncated_file_ends_with_a_warning(caplog, tmp_path):
    caplog.set_level(logging.WARNING)
    path = tmp_path / "cut.mp4"
    data = (VIDEO / "single_face.mp4").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        source = VideoCaptureSource(str(path), live=False)
    except SourceError:
        return  # some builds refuse the file outright, which is just as clear
    frames = list(source.frames())
    assert len(frames) < 72
    assert "truncated or corrupt" in caplog.text


def test_image_folder_skips_unreadable_files(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    shutil.copy(VIDEO / "single_face.jpg", tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    shutil.copy(VIDEO / "multi_face.jpg", tmp_path / "c.jpg")
    frames = list(ImageFolderSource(tmp_path, fps=2, start_ms=0).frames())
    assert [(f.index, f.time_ms) for f in frames] == [(0, 0), (1, 500)]
    assert "cannot read b.jpg" in caplog.text


@pytest.mark.parametrize(("files", "message"), [([], "holds no images"), (["x.png"], "none of its 1 images")])
def test_image_folder_without_usable_images(tmp_path, files, message):
    for name in files:
        (tmp_path / name).write_bytes(b"junk")
    with pytest.raises(SourceError, match=message):
        list(ImageFolderSource(tmp_path).frames())


@pytest.fixture
def fake_awscam(monkeypatch):
    module = types.ModuleType("awscam")
    monkeypatch.setitem(sys.modules, "awscam", module)
    return module


def test_awscam_frames_through_a_stand_in_module(fake_awscam):
    first, second = IMAGE.copy(), IMAGE.copy()
    script = iter([(True, first), (True, first), (False, None), (True, second)])
    fake_awscam.getLastFrame = lambda: next(script)
    sleeps: list[float] = []
    source = open_source("awscam")
    assert isinstance(source, AwsCamSource)
    source._sleep = sleeps.append
    frames = source.frames()
    got = [next(frames), next(frames)]
    assert got[0].image is first and got[1].image is second  # the repeated frame is not yielded twice
    assert 0.5 in sleeps  # the failed read waited before retrying


def test_awscam_gives_up_after_repeated_failures(fake_awscam, caplog):
    def broken():
        raise RuntimeError("ipc down")

    fake_awscam.getLastFrame = broken
    source = AwsCamSource(reconnect=ReconnectPolicy(max_attempts=2), sleep=lambda s: None)
    with pytest.raises(SourceError, match="gave up after 2 retries"):
        next(source.frames())
    assert "getLastFrame failed: RuntimeError" in caplog.text


def test_awscam_module_without_getlastframe(fake_awscam):
    with pytest.raises(SourceError, match="no getLastFrame"):
        AwsCamSource()


def frames_at(times: list[int]) -> list[Frame]:
    return [Frame(IMAGE, i, t) for i, t in enumerate(times)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def test_realtime_pacing_waits_for_each_frame_time():
    clock = FakeClock()
    out = list(paced(frames_at([5000, 5040, 5080, 6000]), realtime=True, clock=clock, sleep=clock.sleep))
    assert len(out) == 4
    assert clock.sleeps == [0.04, 0.04, 0.92]


def test_pacing_does_not_burst_to_catch_up():
    clock = FakeClock()
    out = []
    for frame in paced(frames_at([0, 100, 200, 300]), realtime=True, clock=clock, sleep=clock.sleep):
        out.append(frame)
        if frame.index == 0:
            clock.now += 0.25  # the pipeline stalled for 250 ms
    assert clock.sleeps == [0.05]  # frames 1 and 2 were late already; only frame 3 waits


def test_as_fast_as_possible_never_sleeps():
    clock = FakeClock()
    assert len(list(paced(frames_at([0, 1000, 2000]), realtime=False, clock=clock, sleep=clock.sleep))) == 3
    assert clock.sleeps == []
