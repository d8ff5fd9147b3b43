"""`moodlens edge run` takes its source from --source, an owner-only --source-file or MOODLENS_EDGE_SOURCE."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from moodlens.commands.edge import source_spec

SOURCE = "rtsp://admin:hunter2-Zq9@192.168.1.20/stream1"


def _args(source: str | None = None, source_file: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(source=source, source_file=source_file)


def test_the_source_comes_from_the_environment_when_not_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODLENS_EDGE_SOURCE", f" {SOURCE}\n")
    assert source_spec(_args()) == SOURCE
    assert source_spec(_args("0")) == "0"  # an explicit --source wins
    monkeypatch.delenv("MOODLENS_EDGE_SOURCE")
    with pytest.raises(ValueError, match="--source, --source-file or MOODLENS_EDGE_SOURCE"):
        source_spec(_args())


def test_a_source_file_with_a_password_must_be_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "door.source"
    path.write_text(SOURCE + "\n")
    path.chmod(0o644)
    with pytest.raises(ValueError, match=r"other users may read it \(mode 644\): chmod 600") as caught:
        source_spec(_args(source_file=path))
    assert "hunter2" not in str(caught.value)
    path.chmod(0o600)
    assert source_spec(_args(source_file=path)) == SOURCE
    public = tmp_path / "public.source"
    public.write_text("rtsp://192.168.1.20/stream1\n")
    public.chmod(0o644)
    assert source_spec(_args(source_file=public)) == "rtsp://192.168.1.20/stream1"  # nothing secret in it


def test_an_empty_or_missing_source_file_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.source"
    empty.write_text("\n")
    with pytest.raises(ValueError, match=r"empty\.source is empty"):
        source_spec(_args(source_file=empty))
    with pytest.raises(ValueError, match=r"nope\.source: No such file"):
        source_spec(_args(source_file=tmp_path / "nope.source"))
