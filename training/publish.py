"""Turns a training checkpoint (train.py's or distill.py's) into the model the edge ships, with its card.

Steps: export the float net with each candidate set of test-time views, score each on the selection
split and time it on one core; keep the most accurate set within the latency budget (the open
anchor's measured latency from `make anchor`, when there is one); quantize it to int8 (calibrated
on training faces) and keep int8 only where it is measurably faster on this CPU without costing
accuracy; then write `expression.onnx`, `expression.json` (figures), the confusion matrix picture and
`MODEL_CARD.md` into the output folder, and, given the publisher's key (``--signing-key``),
`expression.onnx.sig`, which an edge holding the public key requires. fp32 and int8 latencies are
measured the same way as `make bench` (batch 1, one core, median) and both go on the card.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path

import numpy as np

from edge.expression.classifier import ExpressionClassifier
from schemas.expressions import EXPRESSIONS
from training.confusion_plot import write_confusion_png
from training.data import load_split
from training.drift_baseline import baseline, classify_faces
from training.evaluation import Scores, score
from training.export import export_onnx, net_from_checkpoint
from training.latency import time_per_call_ms
from training.model_card import CALIBRATION_FACES, model_card
from training.network import VIEWS
from training.quantize import quantize
from training.signing import load_private_key, sign_file

# Candidate view sets, cheapest first: one view, the face and its mirror, all four.
VIEW_CHOICES: tuple[tuple[str, ...], ...] = (("face",), ("face", "mirror"), VIEWS)
# int8 ships only when at least this much faster than fp32 and at most this much less accurate.
INT8_MIN_SPEEDUP, INT8_MAX_ACCURACY_LOSS = 1.1, 0.005
DEFAULT_ANCHOR = Path("build/anchor/latency.json")
ANCHOR_MODELS = ("fer-tflite", "fer-fp32-tflite")  # the file `fer` runs; its Keras weights as float TFLite


def evaluate_file(path: Path, images: np.ndarray, labels: np.ndarray) -> tuple[Scores, np.ndarray]:
    """Scores and the (N, 7) probabilities of the ONNX file on the faces, classified as the edge does
    (the probabilities are also the drift baseline's input: the faces are classified once)."""
    probabilities = classify_faces(path, images)
    return score(labels, probabilities.argmax(1), len(EXPRESSIONS)), probabilities


def one_core_latency_ms(path: Path, runs: int = 2000) -> float:
    """Median ms per face at batch 1, this process pinned to one core."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(previous)})
    try:
        classifier = ExpressionClassifier(path, threads=1)
        size = classifier.info.input_size
        face = np.random.default_rng(0).uniform(0, 255, (1, 1, size, size)).astype(np.float32)
        return statistics.median(time_per_call_ms(classifier, face, runs))
    finally:
        os.sched_setaffinity(0, previous)


def this_machine() -> str:
    """The CPU the figures were measured on: int8 speed and even accuracy depend on its instructions."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    vnni = "VNNI" if flags & {"avx512_vnni", "avx_vnni"} else "no VNNI"
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    load = os.getloadavg()[0]
    return f"{model}, {os.cpu_count()} cores, {isa}, {vnni}; load average {load:.1f} while measuring"


def scores_dict(scores: Scores) -> dict[str, object]:
    return {"accuracy": round(scores.accuracy, 4), "macro_f1": round(scores.macro_f1, 4),
            "recall": {n: round(r, 4) for n, r in zip(EXPRESSIONS, scores.recall, strict=True)}}


def anchor_latency(path: Path | None) -> dict[str, object] | None:
    """The open anchor's figures from `benchmarks/anchor_latency.py --json`, if that file exists: the
    faster of fer's two TFLite files (the one it ships, and its Keras weights converted to float)."""
    if path is None or not path.is_file():
        return None
    measured = json.loads(path.read_text())
    models = measured.get("models", {})
    anchors = {name: float(models[name]["ms_per_face"]) for name in ANCHOR_MODELS if name in models}
    if not anchors:
        raise ValueError(f"{path}: none of {', '.join(ANCHOR_MODELS)} in models; rerun `make anchor`")
    fastest = min(anchors, key=anchors.__getitem__)
    return {"model": fastest, "ms_per_face": anchors[fastest], "measured": measured.get("measured"),
            "beside": {k: v["ms_per_face"] for k, v in models.items()}}


def choose_views(candidates: list[tuple[tuple[str, ...], Scores, float]],
                 budget_ms: float | None) -> tuple[tuple[str, ...], Scores, float]:
    """The most accurate candidate within the budget; the fastest one if none is within it."""
    within = [c for c in candidates if budget_ms is None or c[2] <= budget_ms]
    if not within:
        return min(candidates, key=lambda c: c[2])
    return max(within, key=lambda c: (c[1].accuracy, -c[2]))


def choose_precision(fp32: tuple[Scores, float], int8: tuple[Scores, float]) -> str:
    faster = fp32[1] >= INT8_MIN_SPEEDUP * int8[1]
    as_accurate = int8[0].accuracy >= fp32[0].accuracy - INT8_MAX_ACCURACY_LOSS
    return "int8" if faster and as_accurate else "fp32"


def publish(checkpoint: Path, data: Path, out: Path, model_id: str, version: str,
            work: Path = Path("build/publish"), views: tuple[str, ...] | None = None,
            precision: str = "auto", budget_ms: float | None = None, anchor_file: Path | None = DEFAULT_ANCHOR,
            latency_runs: int = 2000, signing_key: Path | None = None) -> dict[str, object]:
    """`views` None: chosen by measurement; `budget_ms` None: the anchor's latency where measured."""
    private_key = load_private_key(signing_key) if signing_key is not None else None  # refused before the work
    work.mkdir(parents=True, exist_ok=True)
    net, state = net_from_checkpoint(checkpoint)
    metrics = {k: float(v) for k, v in state.get("result", {}).items()}
    images, labels = load_split(data, "test_public")
    anchor = anchor_latency(anchor_file)
    if budget_ms is None and anchor is not None:
        budget_ms = float(str(anchor["ms_per_face"]))
    candidates = []
    probabilities_of: dict[tuple[str, ...], np.ndarray] = {}
    for choice in ([views] if views else VIEW_CHOICES):
        path = work / f"expression.{len(choice)}view.float.onnx"
        export_onnx(net, path, model_id, version, metrics, choice)
        choice_scores, probabilities_of[choice] = evaluate_file(path, images, labels)
        candidates.append((choice, choice_scores, one_core_latency_ms(path, latency_runs)))
        print(f"views {','.join(choice)}: accuracy {candidates[-1][1].accuracy:.4f}, "
              f"{candidates[-1][2]:.3f} ms/face fp32", flush=True)
    chosen_views, float_scores, float_ms = choose_views(candidates, budget_ms)
    float_path = work / f"expression.{len(chosen_views)}view.float.onnx"
    int8_path = work / "expression.int8.onnx"
    train_images, _ = load_split(data, "train")
    faces = min(CALIBRATION_FACES, len(train_images))
    calibration = train_images[np.random.default_rng(0).choice(len(train_images), faces, replace=False)]
    quantize(float_path, int8_path, calibration)
    (int8_scores, int8_probabilities), int8_ms = (evaluate_file(int8_path, images, labels),
                                                  one_core_latency_ms(int8_path, latency_runs))
    if precision == "auto":
        precision = choose_precision((float_scores, float_ms), (int8_scores, int8_ms))
    shipped_scores, shipped_ms = (int8_scores, int8_ms) if precision == "int8" else (float_scores, float_ms)
    shipped_probabilities = int8_probabilities if precision == "int8" else probabilities_of[chosen_views]
    out.mkdir(parents=True, exist_ok=True)
    shipped = out / "expression.onnx"
    shutil.copyfile(int8_path if precision == "int8" else float_path, shipped)
    stale = shipped.with_name(shipped.name + ".sig")
    stale.unlink(missing_ok=True)  # a signature of the file this one replaced would make edges refuse it
    if private_key is not None:
        sign_file(private_key, shipped, version)
    confusion_png = out / "expression_confusion.png"
    write_confusion_png(shipped_scores.confusion, EXPRESSIONS,
                        f"{model_id} {version} ({precision}) on test_public", confusion_png)
    figures: dict[str, object] = {
        "model_id": model_id, "version": version, "sha256": ExpressionClassifier(shipped).info.sha256,
        "architecture": type(net).__name__, "parameters": sum(p.numel() for p in net.parameters()),
        "size_bytes": shipped.stat().st_size, "split": "test_public", "faces": len(labels),
        "precision": precision, "test_time_views": list(chosen_views),
        "shipped": scores_dict(shipped_scores), "int8": scores_dict(int8_scores), "float32": scores_dict(float_scores),
        "latency_ms_batch1_one_core": round(shipped_ms, 3),
        "latency_ms": {"float32": round(float_ms, 3), "int8": round(int8_ms, 3)},
        "views_considered": [{"views": list(v), "accuracy": round(s.accuracy, 4), "float32_ms": round(ms, 3)}
                             for v, s, ms in candidates],
        "latency_budget_ms": budget_ms, "anchor": anchor,
        "confusion_shipped": shipped_scores.confusion.tolist(), "confusion_picture": confusion_png.name,
        "machine": this_machine(), "lifted_from": state.get("lifted_from"),
        # Checkpoints from before --select were the epoch best on the public test.
        "epoch_selection": state.get("select", "best-public-test"),
        # What `moodlens model drift` compares camera-days with: it travels with the model.
        "drift_baseline": baseline(shipped_probabilities, "test_public"),
    }
    (out / "expression.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(figures, checkpoint))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("build/model/checkpoints/model.pt"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("edge/models"))
    parser.add_argument("--model-id", default="moodlens-expression-vgg32")
    parser.add_argument("--model-version", default="1.0.0")
    parser.add_argument("--views", default="auto",
                        help=f"comma-separated test-time views from {VIEWS}, or auto: the most accurate of "
                             f"{[','.join(v) for v in VIEW_CHOICES]} within the latency budget")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                        help=f"auto: int8 only when >= {INT8_MIN_SPEEDUP}x faster here and within "
                             f"{INT8_MAX_ACCURACY_LOSS:.1%} accuracy of fp32")
    parser.add_argument("--budget-ms", type=float, help="latency budget per face (default: the anchor's)")
    parser.add_argument("--anchor", type=Path, default=DEFAULT_ANCHOR,
                        help="the anchor's figures from `make anchor` (used when present)")
    parser.add_argument("--signing-key", type=Path, default=None,
                        help="the publisher's Ed25519 private key (`moodlens model keygen`): writes "
                             "expression.onnx.sig, which edges given the public key require")
    args = parser.parse_args()
    views = None if args.views == "auto" else tuple(args.views.split(","))
    figures = publish(args.checkpoint, args.data, args.out, args.model_id, args.model_version, views=views,
                      precision=args.precision, budget_ms=args.budget_ms, anchor_file=args.anchor,
                      signing_key=args.signing_key)
    print(json.dumps({k: v for k, v in figures.items() if not k.startswith("confusion")}, indent=2))


if __name__ == "__main__":
    main()
