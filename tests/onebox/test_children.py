"""The box's edges: a recorded camera goes on after a restart and, played as fast as it goes, stays within
what the stream runner takes from the future."""

from __future__ import annotations

from pathlib import Path

from onebox.children import edge_spec
from onebox.config import from_values
from onebox.layout import Layout
from stream.ingest import IngestConfig


def _option(argv: tuple[str, ...], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_a_recorded_camera_resumes_and_one_not_paced_stays_within_the_streams_future(tmp_path: Path) -> None:
    config = from_values({"site": {"id": "cafe", "state_dir": str(tmp_path / "s")}},
                         [{"id": "fast", "source": "0"}, {"id": "paced", "source": "1", "realtime": True}])
    fast, paced = (edge_spec(config, camera, Layout(config.state_dir)).argv for camera in config.cameras)
    assert "--resume" in fast and "--resume" in paced
    limit = _option(fast, "--max-ahead")
    assert limit is not None and 0 < float(limit) * 1000 < IngestConfig().max_future_ms
    assert _option(paced, "--max-ahead") is None and "--realtime" in paced
