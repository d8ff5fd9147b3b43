"""A malformed checkpoint names its file and says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.jsonl import read_checkpoint


@pytest.mark.parametrize("content", [b'{"offset": 3', b"", b"[1, 2]"])
def test_a_malformed_checkpoint_names_its_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"{path}: malformed checkpoint"):
        read_checkpoint(path, version=1)
