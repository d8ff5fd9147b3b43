"""The box's children, built from the site file: one edge per camera, the stream runner, the jobs."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from edge.redact import SOURCE_ENV
from edge.sources.errors import EXIT_CONFIGURATION
from onebox.config import CameraConfig, SiteConfig
from onebox.layout import Layout
from onebox.settings import JOB_PLACEHOLDERS
from onebox.supervisor import ChildSpec, Restart
from stream.ingest import IngestConfig

CLI = (sys.executable, "-m", "moodlens.cli")
# The stream runner refuses events further ahead of its clock than this (a camera with a wrong clock): a
# recorded camera played faster than real time waits a minute short of it.
MAX_AHEAD_S = IngestConfig().max_future_ms / 1000 - 60


def edge_spec(config: SiteConfig, camera: CameraConfig, layout: Layout, restart: Restart = "on-failure",
              extra: Sequence[str] = ()) -> ChildSpec:
    # The source travels in the environment, which only the box's user can read: an RTSP URL may
    # hold a password, and any user of the machine can read a command line.
    argv = [*CLI, "edge", "run", "--site", config.site_id, "--camera", camera.id,
            "--publisher", "local", "--quiet", "--folder-fps", f"{camera.fps:g}", "--resume"]
    if camera.realtime:
        argv.append("--realtime")
    else:  # played as fast as it goes, a recorded camera stays within what the stream runner takes from the future
        argv += ["--max-ahead", f"{MAX_AHEAD_S:g}"]
    for zone in camera.exclude_zones:
        argv += ["--exclude-zone", ",".join(f"{v:g}" for v in zone)]
    env = {SOURCE_ENV: camera.source, "MOODLENS_LOCAL_LOG": str(layout.log), "MOODLENS_STATE_DIR": str(layout.root),
           "MOODLENS_SPOOL": str(layout.spool / f"{camera.id}.db")}
    # on-failure: an edge exits 0 only when a recorded source has ended; a lost camera exits non-zero and
    # is retried, a source that cannot be (a missing file) exits 2 and is not: the camera_silent alarm
    # carries its reason. SIGINT: `edge run` closes its publisher on KeyboardInterrupt, delivering what is spooled.
    # --resume: a recorded source (a file or folder as a camera) goes on after a restart of `up`, not again.
    return ChildSpec(f"edge-{camera.id}", (*argv, *extra), env, restart, signal.SIGINT, 0, "edge",
                     give_up_on=(EXIT_CONFIGURATION,))


def site_zones_json(config: SiteConfig) -> str:
    """The site's `[site] timezone` as `stream run --sites` takes it: its alarms learn the site's local hours."""
    return json.dumps({config.site_id: {"timezone": config.get("site", "timezone")}}, separators=(",", ":"))


def stream_spec(config: SiteConfig, layout: Layout, extra: Sequence[str] = ()) -> ChildSpec:
    argv = [*CLI, "stream", "run", "--log", str(layout.log), "--state", str(layout.stream),
            "--thresholds-json", json.dumps(config.values["thresholds"], separators=(",", ":")),
            "--sites", site_zones_json(config)]
    # SIGTERM: the runner finishes its batch and checkpoints (stream run's handler).
    return ChildSpec("stream", (*argv, *extra), {}, "always", signal.SIGTERM, 1, "stream")


def job_spec(name: str, template: Sequence[str], config: SiteConfig, layout: Layout) -> ChildSpec:
    fill = {"log": str(layout.log), "lake": str(config.lake_dir), "reports": str(config.reports_dir),
            "state": str(layout.root), "site": config.site_id, "crops": str(config.label_crops_dir),
            "key": str(config.label_key_file)}
    assert set(fill) == set(JOB_PLACEHOLDERS)  # the site-file check accepts exactly what is filled here
    argv = [part.format(**fill) for part in template]
    return ChildSpec(name, (*CLI, *argv), {}, "never", signal.SIGTERM, 2, "job")


def all_specs(config: SiteConfig, layout: Layout) -> list[ChildSpec]:
    return [*(edge_spec(config, c, layout) for c in config.cameras), stream_spec(config, layout)]


def lake_paths(config: SiteConfig, layout: Layout) -> list[Path]:
    """What the disk budget counts: spools, event log, stream outputs, the box's logs, the lake."""
    return [layout.spool, layout.log, layout.stream, layout.logs, config.lake_dir]
