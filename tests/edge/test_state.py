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
