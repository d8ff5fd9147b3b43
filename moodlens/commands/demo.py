"""`moodlens demo`: the embedded pipeline, end to end, over the bundled sample clips.

Each clip plays as one camera of a demo site, all starting at the same minute, as if filmed side
by side: edge (detect, track, classify) → spool → local log → stream runner → windows and alarms.
Everything lands under `--state` (default var/demo), including an annotated video of the first
clip. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_VIDEO = Path(__file__).resolve().parents[2] / "data" / "video"
DEMO_CLIPS = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov", "noface_face.mov")
SITE = "demo-cafe"
HEARTBEAT_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Camera:
    camera_id: str
    clip: Path


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = groups.add_parser("demo", help="run the embedded pipeline over the sample clips")
    demo.add_argument("--videos", type=Path, default=REPO_VIDEO, help="folder with the sample clips")
    demo.add_argument("--state", type=Path, default=Path("var/demo"), help="where the demo writes (reset each run)")
    demo.add_argument("--min-tracks", type=int, default=1,
                      help="fewest customers for a window to report numbers (the demo site has only a few)")
    demo.add_argument("--blur-faces", action="store_true", help="pixelate faces in the annotated video")
    demo.set_defaults(handler=run_demo)
    from moodlens.commands.demo_history import add_history_command

    add_history_command(demo)


def demo_cameras(videos: Path) -> list[Camera]:
    missing = [name for name in DEMO_CLIPS if not (videos / name).is_file()]
    if missing:
        raise FileNotFoundError(f"sample clips missing from {videos}: {', '.join(missing)}")
    return [Camera(f"cam-{i}", videos / name) for i, name in enumerate(DEMO_CLIPS, start=1)]


def run_edge(cameras: list[Camera], state: Path, start_ms: int, blur_faces: bool) -> None:
    """Runs the edge over each clip in turn, publishing through the spool into the local log."""
    from edge.annotate import VideoAnnotator
    from edge.detection.haar import HaarFaceDetector, HaarSettings
    from edge.events import EventContext
    from edge.expression.classifier import ExpressionClassifier
    from edge.heartbeat import FrameHeartbeats
    from edge.pipeline import Pipeline, PipelineStats
    from edge.publish.factory import PublisherSettings, build_publisher
    from edge.sources import VideoCaptureSource
    from moodlens import __version__
    from moodlens.commands.edge import SinkGauge, counters

    classifier = ExpressionClassifier()
    detector = HaarFaceDetector(HaarSettings())
    for index, camera in enumerate(cameras):
        source = VideoCaptureSource(str(camera.clip), live=False, start_ms=start_ms)
        annotator = None
        if index == 0:
            annotator = VideoAnnotator(state / f"annotated_{camera.clip.stem}.mp4", source.fps, blur_faces)
        settings = PublisherSettings(spool_path=state / f"spool-{camera.camera_id}.db", local_log_dir=state / "log")
        publisher = build_publisher("local", SITE, camera.camera_id, settings)
        context = EventContext(SITE, camera.camera_id, classifier.info.model_id, classifier.info.version)
        pipeline = Pipeline(detector, classifier, publisher, context, annotator=annotator)
        heartbeats = FrameHeartbeats(SITE, camera.camera_id, SinkGauge(publisher), lambda: classifier.info.version,
                                     __version__, HEARTBEAT_INTERVAL_S, publisher)

        def beat(stats: PipelineStats, heartbeats: FrameHeartbeats = heartbeats) -> None:
            heartbeats.on_frame(counters(stats), stats.last_ms)

        try:
            stats = pipeline.run(source.frames(), on_frame=beat)
            heartbeats.finish(counters(stats))
        finally:
            source.close()
            publisher.close()
        print(f"edge  {camera.camera_id} {camera.clip.name}: {stats.frames} frames, faces on "
              f"{stats.frames_with_faces}, {stats.events_total} events", flush=True)


def timeline(events: list[dict[str, Any]], start_ms: int) -> dict[str, list[str]]:
    """Per camera, one line per second of video: each track's smoothed top expression then."""
    lines: dict[str, list[str]] = defaultdict(list)
    faces = [e for e in events if e.get("schema") == "face_expression"]
    for event in sorted(faces, key=lambda e: (e["camera_id"], e["event_time_ms"], e["track_id"])):
        second = (event["event_time_ms"] - start_ms) / 1000
        probabilities = event["probabilities"]
        top = event["top_class"]
        what = "visit summary" if event["kind"] == "track_end" else "          "
        lines[event["camera_id"]].append(
            f"  {second:5.1f}s  track {event['track_id']:<12} {what} {top:<8} {probabilities[top]:.2f}  "
            f"valence {event['valence']:+.2f}{'' if event['quality'].get('usable', True) else '  (low quality)'}")
    return lines


def print_new(path: Path, seen: int, formatter: Any, wanted: Any = None) -> int:
    if not path.exists():
        return seen
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[seen:]:
        event = json.loads(line)
        if wanted is None or wanted(event):
            print(formatter(event), flush=True)
    return len(lines)


def run_demo(args: argparse.Namespace) -> int:
    from moodlens.commands.stream import format_event
    from moodlens.locallog import LocalLog
    from stream.alarms import AlarmConfig
    from stream.embedded import ALARMS, WINDOWS, EmbeddedRunner, RunnerConfig
    from stream.engine import EngineConfig

    cameras = demo_cameras(args.videos)
    state: Path = args.state
    shutil.rmtree(state, ignore_errors=True)
    (state / "log").mkdir(parents=True)
    start_ms = (int(time.time() * 1000) // 60_000 - 2) * 60_000  # a whole minute, shortly before now
    print(f"moodlens demo: site {SITE}, {len(cameras)} cameras, one sample clip each, state in {state}/\n")

    edge_error: list[BaseException] = []

    def edge_thread() -> None:
        try:
            run_edge(cameras, state, start_ms, args.blur_faces)
        except BaseException as error:  # reported by the main thread
            edge_error.append(error)

    worker = threading.Thread(target=edge_thread, name="edge", daemon=True)
    worker.start()
    config = RunnerConfig(engine=EngineConfig(min_tracks=args.min_tracks),
                          alarms=AlarmConfig(min_tracks=args.min_tracks))
    runner = EmbeddedRunner(LocalLog(state / "log"), state / "stream", config, source="demo")
    seen = {WINDOWS: 0, ALARMS: 0}

    def five_minute_with_faces(event: dict[str, Any]) -> bool:
        # Closing the hour-long windows emits a window a minute for every key; empty ones say nothing.
        return bool(event["window_minutes"] == 5 and (event["tracks"] or event["low_quality_faces"]))

    def show() -> None:
        seen[WINDOWS] = print_new(state / "stream" / WINDOWS, seen[WINDOWS], lambda e: "window " + format_event(e),
                                  five_minute_with_faces)
        seen[ALARMS] = print_new(state / "stream" / ALARMS, seen[ALARMS], lambda e: "ALARM  " + format_event(e))

    try:
        while worker.is_alive():
            runner.step()
            show()
            time.sleep(0.2)
        if edge_error:
            raise edge_error[0]
        print("clips over: closing every open window (event time runs on, so the cameras now fall silent)")
        runner.drain(flush=True)
        show()
    finally:
        runner.close()

    events = [json.loads(payload) for _, payload in LocalLog(state / "log").read(0, 1_000_000)]
    print("\nper-second expression timeline (one track_update per track per second):")
    lines = timeline(events, start_ms)
    for camera in cameras:
        print(f"{camera.camera_id} {camera.clip.name}:")
        print("\n".join(lines.get(camera.camera_id, ["  no faces"])))
    counts = runner.counters
    heartbeats = sum(1 for e in events if e.get("schema") == "camera_heartbeat")
    print(f"\n{len(events)} events in the local log ({heartbeats} heartbeats); stream: {counts['windows']} windows, "
          f"{counts['alarms']} alarms, {counts['dead_letters']} dead letters, {counts['late']} late")
    print(f"annotated video: {next(state.glob('annotated_*.mp4'))}")
    print(f"windows and alarms: {state / 'stream'}/ (moodlens stream tail --state {state / 'stream'})")
    sys.stdout.flush()
    return 0
