"""A recorded source going on after a restart: the frames from the recorded one, on a timeline after the
events already published."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.frame import Frame
from edge.sources import VideoCaptureSource, not_ahead, open_source, recorded_identity, resumed
from tests.edge.conftest import REPO, VIDEO

CLIP = REPO / "data" / "video" / "WolfgangLanger_Pexels.mp4"
IMAGE = np.zeros((4, 4, 3), np.uint8)


def _frames(count: int, start_ms: int, step_ms: int) -> list[Frame]:
    return [Frame(IMAGE, index, start_ms + index * step_ms) for index in range(count)]


@given(count=st.integers(1, 60), cut=st.integers(0, 60), step_ms=st.integers(1, 200),
       first_start=st.integers(0, 10**6), second_start=st.integers(0, 10**6), now_ms=st.integers(0, 2 * 10**6))
def test_a_restart_at_any_frame_plays_every_frame_once_and_later_than_the_first_part(
        count: int, cut: int, step_ms: int, first_start: int, second_start: int, now_ms: int) -> None:
    cut = min(cut, count)
    played = _frames(count, first_start, step_ms)[:cut]
    last_ms = played[-1].time_ms if played else first_start
    not_before = max(now_ms, last_ms + 1)
    rest = list(resumed(_frames(count, second_start, step_ms), cut, not_before))
    assert [f.index for f in played + rest] == list(range(count))
    times = [f.time_ms for f in rest]
    assert all(t > last_ms and t >= now_ms for t in times)
    assert times == sorted(times) and len(set(times)) == len(times)  # the clip's own spacing is kept
    assert all(b - a == step_ms for a, b in itertools.pairwise(times))


def test_a_video_file_seeks_to_the_frame_a_restart_goes_on_from() -> None:
    whole = [f.image for f in VideoCaptureSource(str(CLIP), live=False, start_ms=0).frames()]
    source = open_source(str(CLIP), first_frame=300)
    rest = list(source.frames())
    source.close()
    assert [f.index for f in rest] == list(range(300, len(whole)))
    assert all(np.array_equal(f.image, whole[f.index]) for f in rest[:5] + rest[-5:])


def test_a_recorded_sources_identity_changes_with_its_content_and_a_live_one_has_none(tmp_path) -> None:
    clip = tmp_path / "door.mp4"
    shutil.copy(VIDEO / "single_face.mp4", clip)
    first = recorded_identity(str(clip))
    assert first is not None and first == recorded_identity(str(clip))
    shutil.copy(VIDEO / "face_noface.mov", clip)  # another clip under the same name
    assert recorded_identity(str(clip)) not in (None, first)
    folder = tmp_path / "day"
    folder.mkdir()
    shutil.copy(VIDEO / "single_face.mp4", folder / "a.mp4")
    before = recorded_identity(str(folder))
    shutil.copy(VIDEO / "face_noface.mov", folder / "b.mov")
    assert before is not None and recorded_identity(str(folder)) not in (None, before)
    assert recorded_identity(str(tmp_path / "missing.mp4")) is None


@given(times=st.lists(st.integers(0, 10**6), min_size=1, max_size=30).map(sorted),
       max_ahead_ms=st.integers(0, 10**5), start_ms=st.integers(0, 10**6))
def test_a_recorded_source_never_runs_further_ahead_of_the_wall_clock_than_allowed(
        times: list[int], max_ahead_ms: int, start_ms: int) -> None:
    clock = [start_ms]
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += round(seconds * 1000)

    for frame in not_ahead([Frame(IMAGE, i, t) for i, t in enumerate(times)], max_ahead_ms, lambda: clock[0], sleep):
        assert frame.time_ms - clock[0] <= max_ahead_ms
        if frame.time_ms - max_ahead_ms <= start_ms:
            assert not waits  # within the limit from the start: as fast as it goes


def test_without_a_limit_a_recorded_source_never_waits() -> None:
    frames = [Frame(IMAGE, i, 10**9 + i) for i in range(5)]
    assert list(not_ahead(frames, None, lambda: 0, lambda s: pytest.fail("waited"))) == frames
