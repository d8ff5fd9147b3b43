"""The edge's state folder: the spool and the model cache always land in the same one."""

from __future__ import annotations

import pytest

from edge.model.loading import model_cache_dir
from edge.publish.factory import PublisherSettings


@pytest.mark.parametrize("value", ["{tmp}/state", "", None])
def test_the_spool_and_the_model_cache_share_the_state_folder(monkeypatch, tmp_path, value):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if value is None:
        monkeypatch.delenv("MOODLENS_STATE_DIR", raising=False)
    else:
        monkeypatch.setenv("MOODLENS_STATE_DIR", value.format(tmp=tmp_path))
    spool = PublisherSettings.from_environment("cafe-1", "door").spool_path
    expected = tmp_path / "state" if value else tmp_path / "home" / ".moodlens"  # empty counts as unset
    assert spool == expected / "spool-cafe-1-door.db"
    assert model_cache_dir() == expected / "models"


def _progress(tmp_path, identity="clip#1", every_s=1.0, clock=None):  # type: ignore[no-untyped-def]
    from edge.state import SourceProgress

    progress = SourceProgress.load(tmp_path, "cafe-1", "door", identity)
    progress.every_s = every_s
    if clock is not None:
        progress.clock = clock
    return progress


def test_a_recorded_sources_progress_is_kept_for_the_same_source_only(tmp_path):
    progress = _progress(tmp_path)
    assert (progress.next_frame, progress.last_ms, progress.ended) == (0, None, False)
    progress.frame_done(41, 5_000, published=True)
    again = _progress(tmp_path)
    assert (again.next_frame, again.last_ms, again.ended) == (42, 5_000, False)
    again.end()
    assert _progress(tmp_path).ended
    other = _progress(tmp_path, identity="clip#2")  # another clip under the camera: from its start
    assert (other.next_frame, other.last_ms, other.ended) == (0, None, False)


def test_frames_without_events_are_recorded_at_most_every_so_often_and_flushed_at_the_end(tmp_path):
    now = [0.0]
    progress = _progress(tmp_path, every_s=1.0, clock=lambda: now[0])
    progress.frame_done(0, 100, published=False)  # never written: the first write is due at once
    for index in range(1, 10):
        now[0] += 0.05
        progress.frame_done(index, 100 + index, published=False)
    assert _progress(tmp_path).next_frame == 1
    progress.frame_done(10, 110, published=True)  # a frame with events: written before the next frame
    assert _progress(tmp_path).next_frame == 11
    progress.frame_done(11, 111, published=False)
    progress.flush()
    assert _progress(tmp_path).next_frame == 12


def test_an_unreadable_progress_record_plays_from_the_start_and_says_so(tmp_path, caplog):
    path = tmp_path / "progress" / "cafe-1.door.json"
    path.parent.mkdir()
    path.write_text("{not json")
    assert _progress(tmp_path).next_frame == 0
    assert "unreadable" in caplog.text and str(path) in caplog.text


def test_a_full_disk_keeps_the_camera_going_and_records_once_space_is_back(tmp_path, monkeypatch, caplog):
    import edge.state

    progress = _progress(tmp_path)
    progress.frame_done(4, 400, published=True)
    real = edge.state.write_atomically

    def full(path, data):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(edge.state, "write_atomically", full)
    progress.frame_done(5, 500, published=True)
    progress.frame_done(6, 600, published=True)
    assert caplog.text.count("No space left on device") == 1 and "replay from frame 5" in caplog.text
    assert _progress(tmp_path).next_frame == 5
    monkeypatch.setattr(edge.state, "write_atomically", real)
    progress.frame_done(7, 700, published=True)
    assert _progress(tmp_path).next_frame == 8
