"""Building the publisher from MOODLENS_* settings, as `moodlens edge run` and Greengrass do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.publish.factory import PublisherSettings, build_publisher
from locallog import LocalLog
from tests.edge.publish.fakes import heartbeat


@pytest.mark.parametrize(("kind", "words"), [
    ("local", "MOODLENS_LOCAL_LOG"),
    ("kinesis", "MOODLENS_KINESIS_STREAM"),
    ("iot", "MOODLENS_IOT_ENDPOINT, MOODLENS_IOT_CA, MOODLENS_IOT_CERT, MOODLENS_IOT_KEY"),
    ("carrier-pigeon", "unknown publisher"),
])
def test_missing_settings_are_named(tmp_path, kind, words):
    with pytest.raises(ValueError, match=words):
        build_publisher(kind, "site-1", "cam-1", PublisherSettings(spool_path=tmp_path / "s.db"))


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MOODLENS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MOODLENS_LOCAL_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("MOODLENS_SPOOL_MAX_RECORDS", "42")
    settings = PublisherSettings.from_environment("site-1", "cam-1")
    assert settings.spool_path == tmp_path / "spool-site-1-cam-1.db"
    assert (settings.local_log_dir, settings.spool_max_records) == (tmp_path / "log", 42)


def test_the_local_publisher_delivers_to_the_log_by_close(tmp_path):
    settings = PublisherSettings(spool_path=tmp_path / "s.db", local_log_dir=tmp_path / "log")
    publisher = build_publisher("local", "site-1", "cam-1", settings)
    events = [heartbeat(n) for n in range(20)]
    for event in events:
        publisher.publish(event)
    publisher.close()
    assert publisher.depth() == 0
    assert [json.loads(p) for _, p in LocalLog(Path(tmp_path / "log")).read(0, 100)] == events


@pytest.mark.parametrize(("site", "camera"), [("../../../escape", "door"), ("x" * 300, "door"),
                                              ("cafe-1", "door\n"), ("cafe-1", "a/b")])
def test_no_spool_path_is_built_from_an_invalid_id(monkeypatch, tmp_path, site, camera):
    monkeypatch.setenv("MOODLENS_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(ValueError, match=r"invalid id: (site|camera): .* is not an id"):
        PublisherSettings.from_environment(site, camera)
    with pytest.raises(ValueError, match="invalid id"):
        build_publisher("local", site, camera, PublisherSettings(tmp_path / "s.db", tmp_path / "log"))
    assert not (tmp_path / "state").exists() and not (tmp_path / "s.db").exists()
