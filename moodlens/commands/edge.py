"""`moodlens edge ...` commands: run the edge pipeline on a source, or benchmark it."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from edge.ports import ClosableSink, EventSink, SpoolDepth

if TYPE_CHECKING:  # the heavy modules (OpenCV, onnxruntime) load only when an edge command runs
    from edge.detection.zones import ZoneMask
    from edge.events import EventContext
    from edge.expression.classifier import ExpressionClassifier
    from edge.heartbeat import FrameHeartbeats, PipelineCounters
    from edge.model_store import ModelWatcher, SwappingClassifier
    from edge.pipeline import Pipeline, PipelineSettings, PipelineStats
    from edge.ports import FaceDetector

PUBLISHERS = ("local", "kinesis", "iot")
SAMPLE_VIDEO = Path(__file__).resolve().parents[2] / "data" / "video" / "WolfgangLanger_Pexels.mp4"
log = logging.getLogger("moodlens.edge")


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("edge", help="run one camera: find, track and read faces, publish events")
    commands = group.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="detect, track and classify faces from a source; publish events")
    run.add_argument("--source", required=True,
                     help="video file, camera index (0), rtsp:// or http:// URL, image folder, or 'awscam'")
    run.add_argument("--site", required=True, help="site id put on every event")
    run.add_argument("--camera", required=True, help="camera id put on every event")
    run.add_argument("--publisher", choices=PUBLISHERS, default="local", help="where events go (default local)")
    run.add_argument("--output", default="-", help="local publisher: JSON Lines file, or - for stdout (default)")
    run.add_argument("--realtime", action="store_true",
                     help="pace recorded sources (files, folders) to their real time instead of as fast as possible")
    run.add_argument("--folder-fps", type=float, default=10.0, help="frame rate given to an image folder")
    run.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    run.add_argument("--annotate", type=Path, default=None,
                     help="write a local annotated video (boxes, track ids, expression bars) to this .mp4")
    run.add_argument("--blur-faces", action="store_true", help="pixelate faces in the annotated video")
    run.add_argument("--quiet", action="store_true", help="no live status line")
    run.add_argument("--reconnect-attempts", type=int, default=10,
                     help="live sources: reconnects in a row before giving up (0 = forever)")
    run.add_argument("--heartbeat-interval", type=float, default=30.0, metavar="SECONDS",
                     help="camera_heartbeat event every this many seconds of source time, plus one at the first "
                          "frame and one at the end (default 30; 0 = no heartbeats)")
    _add_pipeline_options(run)
    run.add_argument("--model-sha256", default=None, metavar="HEX",
                     help="pin the model's sha256: any other file (or new version) is refused. Without it the "
                          "digest comes from <model>.sha256 or, for a local file, its <stem>.json model card; "
                          "an S3 model must have one of them (empty: no pin)")
    run.add_argument("--model-poll-interval", type=float, default=300.0, metavar="SECONDS",
                     help="look for a new model version this often and swap it in between frames "
                          "(default 300; 0 = never)")
    run.set_defaults(handler=run_command)

    bench = commands.add_parser("bench", help="frames/s, time per stage and peak RSS on a recorded video")
    bench.add_argument("--source", default=str(SAMPLE_VIDEO), help="video file (default: the 640x360 sample clip)")
    bench.add_argument("--max-frames", type=int, default=None)
    _add_pipeline_options(bench)
    bench.set_defaults(handler=bench_command)

    from moodlens.commands.infra import register_provision

    register_provision(commands)


def _add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    from edge.expression.classifier import DEFAULT_MODEL

    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="expression model (.onnx): a path or s3://bucket/key (default: the shipped model)")
    parser.add_argument("--detector", choices=("haar", "hog"), default="haar",
                        help="face detector: OpenCV Haar (default) or dlib HOG (needs dlib-bin)")
    parser.add_argument("--cascade", default="haarcascade_frontalface_default.xml",
                        help="Haar cascade file, bundled name or path")
    parser.add_argument("--detect-width", type=int, default=320, help="width frames are shrunk to for detection")
    parser.add_argument("--full-detect-every", type=int, default=4,
                        help="full-frame detection every N frames; re-detect near tracks in between")
    parser.add_argument("--update-interval", type=float, default=1.0,
                        help="seconds between track_update events of one track (default 1)")
    parser.add_argument("--classify-interval", type=float, default=0.25,
                        help="seconds between classifications of one track (default 0.25)")
    parser.add_argument("--exclude-zone", action="append", default=[], metavar="X1,Y1,X2,Y2[,...]",
                        help="area (fractions of the frame) where faces are ignored; repeatable")
    parser.add_argument("--zone", action="append", default=[], metavar="NAME=X1,Y1,X2,Y2[,...]",
                        help="named area reported in events' zone field; repeatable")
    parser.add_argument("--min-face-px", type=int, default=40, help="quality gate: smallest usable face height")


def make_publisher(args: argparse.Namespace) -> EventSink:
    """The event sink for `--publisher`. HOOK: the spool/publisher work replaces the kinesis and iot arms.

    Contract: return an object with `publish(event: dict) -> None` that never blocks on the network
    (the frame loop calls it inline, once per event); optionally `depth() -> int` (events waiting,
    shown on the status line) and `close() -> None` (called once when the run ends, also on errors).
    `args` carries --publisher, --site, --camera and --output; add options in `register` as needed.
    """
    from edge.publish.factory import PublisherSettings, build_publisher
    from edge.sinks import JsonLinesSink

    settings = PublisherSettings.from_environment(args.site, args.camera)
    if args.publisher == "local" and settings.local_log_dir is None:
        # No local log configured (MOODLENS_LOCAL_LOG): plain JSON Lines to --output, as before.
        return JsonLinesSink(args.output)
    # Spooled (SQLite WAL) with a background drainer; settings from MOODLENS_* (see edge/publish/factory.py).
    return build_publisher(args.publisher, args.site, args.camera, settings)


def _pipeline_parts(args: argparse.Namespace) -> tuple[FaceDetector, ZoneMask, PipelineSettings]:
    from edge.detection.haar import HaarFaceDetector, HaarSettings
    from edge.detection.zones import ZoneMask, parse_named_zone, parse_polygon
    from edge.pipeline import PipelineSettings

    detector: FaceDetector
    if args.detector == "hog":
        from edge.detection.hog import HogFaceDetector
        detector = HogFaceDetector(detect_width=args.detect_width)
    else:
        detector = HaarFaceDetector(HaarSettings(cascade=args.cascade, detect_width=args.detect_width))
    zones = ZoneMask([parse_polygon(z) for z in args.exclude_zone], dict(parse_named_zone(z) for z in args.zone))
    if args.update_interval <= 0 or args.classify_interval <= 0:
        raise ValueError("--update-interval and --classify-interval must be positive")
    settings = PipelineSettings(full_detect_every=args.full_detect_every,
                                classify_interval_ms=round(args.classify_interval * 1000),
                                update_interval_ms=round(args.update_interval * 1000))
    return detector, zones, settings


def spool_depth(sink: object) -> int | str:
    """Events waiting in the sink, or its spool (`sink.spool.depth()`); '-' when it cannot say."""
    for candidate in (sink, getattr(sink, "spool", None)):
        if isinstance(candidate, SpoolDepth):
            return candidate.depth()
    return "-"


class StatusLine:
    """fps, faces, tracks, events and spool depth on one line of stderr, redrawn twice a second."""

    def __init__(self, sink: EventSink, stream: IO[str] = sys.stderr, every_s: float | None = None) -> None:
        self.sink = sink
        self.stream = stream
        self.tty = stream.isatty()
        # Redrawn in place on a terminal; into a log file, a line every few seconds is plenty.
        self.every_s = every_s if every_s is not None else 0.5 if self.tty else 5.0
        self.started = self._last = time.monotonic()
        self._last_frames = 0

    def __call__(self, stats: PipelineStats) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        fps = (stats.frames - self._last_frames) / (now - self._last)
        self._last, self._last_frames = now, stats.frames
        depth = spool_depth(self.sink)
        line = (f"frames {stats.frames}  {fps:5.1f} fps  faces {stats.faces}  tracks {stats.open_tracks}  "
                f"events {stats.events_total}  spool {depth}")
        self.stream.write(("\r" + line + "   ") if self.tty else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def model_cache_dir() -> Path:
    """Verified model copies, beside the spool in the state folder (MOODLENS_STATE_DIR, else ~/.moodlens)."""
    return Path(os.environ.get("MOODLENS_STATE_DIR") or Path.home() / ".moodlens") / "models"


def open_model(args: argparse.Namespace) -> tuple[ModelWatcher[ExpressionClassifier], SwappingClassifier]:
    """`--model` (path or s3://) through the verifying store, as a classifier that follows new versions.

    A local path the operator names is trusted when nothing is published to check it against (see
    edge.model_store); a sidecar, a model card (the shipped model's edge/models/expression.json) or
    `--model-sha256` is always enforced. S3 models must verify. S3's endpoint comes from boto3's own
    settings (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, region, credentials).
    """
    from edge.expression.classifier import ModelError
    from edge.model_store import SwappingClassifier, classifier_watcher

    if args.model_poll_interval < 0:
        raise ValueError("--model-poll-interval must be 0 (never) or positive")
    if not args.model.startswith("s3://") and not Path(args.model).is_file():
        raise ModelError(f"model file {args.model} does not exist")
    try:
        watcher = classifier_watcher(args.model, model_cache_dir(), pinned_sha256=args.model_sha256 or None,
                                     poll_interval_s=args.model_poll_interval or 300.0, trust_local=True)
    except (OSError, ValueError):
        raise
    except Exception as error:  # botocore's errors (no such bucket or key, no credentials) name the problem
        raise ValueError(f"model {args.model}: {type(error).__name__}: {error}") from None
    return watcher, SwappingClassifier(watcher)


class SinkGauge:
    """What heartbeats read from the sink: its (or its spool's) depth and dropped count; 0 when it keeps none."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink

    def depth(self) -> int:
        depth = spool_depth(self.sink)
        return depth if isinstance(depth, int) else 0

    @property
    def dropped_count(self) -> int:
        for candidate in (self.sink, getattr(self.sink, "spool", None)):
            dropped = getattr(candidate, "dropped_count", None)
            if isinstance(dropped, int):
                return dropped
        return 0


class BetweenFrames:
    """`Pipeline.run`'s `on_frame`: what happens after each frame, before the next one.

    1. Heartbeats, on the frame's own time (`stats.last_ms`; see edge.heartbeat for why), naming the
       model that classified the frame just done.
    2. The live status line, as before.
    3. Pins the classifier's current model for the next frame and, when the watcher swapped in a new
       version, re-stamps the events' model id/version: a swap lands between two frames, and every
       event names the model that classified its frame.
    """

    def __init__(self, pipeline: Pipeline, classifier: SwappingClassifier, heartbeats: FrameHeartbeats | None,
                 status: StatusLine | None) -> None:
        self.pipeline, self.classifier, self.heartbeats, self.status = pipeline, classifier, heartbeats, status

    def __call__(self, stats: PipelineStats) -> None:
        if self.heartbeats is not None:
            self.heartbeats.on_frame(counters(stats), stats.last_ms)
        if self.status is not None:
            self.status(stats)
        self.sync_model()

    def sync_model(self) -> None:
        info = self.classifier.pin()
        context: EventContext = self.pipeline.reporter.context
        if (info.model_id, info.version) != (context.model_id, context.model_version):
            log.info("model now %s %s (sha256 %s)", info.model_id, info.version, info.sha256[:12])
            self.pipeline.reporter.context = replace(context, model_id=info.model_id, model_version=info.version)

    def finish(self, stats: PipelineStats) -> None:
        if self.heartbeats is not None:
            self.heartbeats.finish(counters(stats))


def counters(stats: PipelineStats) -> PipelineCounters:
    from edge.heartbeat import PipelineCounters

    return PipelineCounters(stats.frames, stats.faces, stats.open_tracks)


def run_command(args: argparse.Namespace) -> int:
    from edge.annotate import VideoAnnotator
    from edge.events import EventContext
    from edge.heartbeat import FrameHeartbeats
    from edge.pipeline import Pipeline
    from edge.quality import QualitySettings
    from edge.sources import ReconnectPolicy, SourceError, open_source, paced
    from moodlens import __version__
    from schemas.validation import require_identifiers

    require_identifiers(**{"--site": args.site, "--camera": args.camera})  # before any path is built from them
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.heartbeat_interval < 0:
        raise ValueError("--heartbeat-interval must be 0 (no heartbeats) or positive")
    detector, zones, settings = _pipeline_parts(args)
    watcher, classifier = open_model(args)
    info = classifier.pin()
    try:
        source = open_source(args.source, ReconnectPolicy(max_attempts=args.reconnect_attempts), args.folder_fps)
    except SourceError as error:
        raise ValueError(str(error)) from None
    sink = make_publisher(args)
    annotator = VideoAnnotator(args.annotate, getattr(source, "fps", 10.0), args.blur_faces) if args.annotate else None
    context = EventContext(args.site, args.camera, info.model_id, info.version)
    pipeline = Pipeline(detector, classifier, sink, context, zones=zones,
                        quality=QualitySettings(min_face_px=args.min_face_px), annotator=annotator,
                        settings=settings)
    status = None if args.quiet else StatusLine(sink)
    heartbeats = None if args.heartbeat_interval == 0 else FrameHeartbeats(
        args.site, args.camera, SinkGauge(sink), lambda: classifier.version, __version__, args.heartbeat_interval,
        sink)
    between = BetweenFrames(pipeline, classifier, heartbeats, status)
    log.info("edge run: source %s, site %s, camera %s, model %s %s (sha256 %s) from %s, publisher %s",
             source.description, args.site, args.camera, info.model_id, info.version, info.sha256[:12], args.model,
             args.publisher)
    if args.model_poll_interval > 0:
        watcher.start()  # downloads, verifies and loads off the frame loop; the swap is one assignment
    try:
        stats = pipeline.run(paced(source.frames(), args.realtime), on_frame=between, max_frames=args.max_frames)
    except SourceError as error:
        raise ValueError(str(error)) from None
    finally:
        watcher.stop()
        source.close()
        between.finish(pipeline.stats)  # after every track_end, before the sink closes
        if isinstance(sink, ClosableSink):
            sink.close()
        if status is not None:
            status.done()
    log.info("edge run done: %d frames, faces on %d, %d events (%s)", stats.frames, stats.frames_with_faces,
             stats.events_total, ", ".join(f"{k} {v}" for k, v in sorted(stats.events.items())) or "none")
    return 0


def bench_command(args: argparse.Namespace) -> int:
    from edge.bench import run_benchmark
    from edge.detection.haar import HaarSettings
    from edge.pipeline import PipelineSettings

    if not Path(args.source).is_file():
        raise FileNotFoundError(f"benchmark video {args.source} does not exist")
    settings = PipelineSettings(full_detect_every=args.full_detect_every,
                                classify_interval_ms=round(args.classify_interval * 1000),
                                update_interval_ms=round(args.update_interval * 1000))
    if args.model.startswith("s3://"):
        raise ValueError("edge bench takes a local model file, not an S3 URI")
    detector, _, _ = _pipeline_parts(args)
    result = run_benchmark(Path(args.source), Path(args.model), settings,
                           HaarSettings(cascade=args.cascade, detect_width=args.detect_width), args.max_frames,
                           detector)
    print(result.report())
    return 0
