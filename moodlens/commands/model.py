"""`moodlens model evaluate`: accuracy, macro-F1, per-class recall and a confusion-matrix PNG."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.expression.classifier import DEFAULT_MODEL, ExpressionClassifier
from moodlens.commands.model_drift import add_drift_command
from moodlens.commands.model_registry import add_registry_commands
from schemas.expressions import EXPRESSIONS

if TYPE_CHECKING:  # the evaluation tools live with training; loaded only when a model command runs
    from training.evaluation import Scores


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("model", help="the expression model: accuracy, publish, promote, roll back, drift")
    commands = group.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="score the model on a labelled split of an .npz archive")
    evaluate.add_argument("--data", type=Path, required=True, help=".npz archive with x_SPLIT and y_SPLIT")
    evaluate.add_argument("--split", required=True, help="split name, e.g. test_public")
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    evaluate.add_argument("--confusion", type=Path, default=None,
                          help="confusion-matrix PNG (default: build/confusion_SPLIT.png)")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.set_defaults(handler=run_evaluate)
    add_registry_commands(commands)
    add_drift_command(commands)


def evaluate(classifier: ExpressionClassifier, images: np.ndarray, labels: np.ndarray,
             batch_size: int = 256) -> Scores:
    from training.evaluation import score

    predicted = np.concatenate([
        classifier.classify(list(images[i:i + batch_size])).argmax(axis=1)
        for i in range(0, len(images), batch_size)
    ])
    return score(labels, predicted, len(EXPRESSIONS))


def format_scores(scores: Scores, split: str, n: int) -> str:
    lines = [f"split {split}: {n} faces",
             f"accuracy  {scores.accuracy:.4f}",
             f"macro-F1  {scores.macro_f1:.4f}",
             "recall per class:"]
    lines += [f"  {name:<9} {recall:.4f}" for name, recall in zip(EXPRESSIONS, scores.recall, strict=True)]
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    from training.confusion_plot import write_confusion_png

    classifier = ExpressionClassifier(args.model)
    from training.data import load_labelled_split  # the training package only when evaluating

    images, labels = load_labelled_split(args.data, args.split)
    scores = evaluate(classifier, images, labels, args.batch_size)
    png = args.confusion or Path("build") / f"confusion_{args.split}.png"
    info = classifier.info
    write_confusion_png(scores.confusion, EXPRESSIONS,
                        f"{info.model_id} {info.version} on {args.split} (acc {scores.accuracy:.3f})", png)
    if args.json:
        print(json.dumps({"split": args.split, "n": len(labels), "accuracy": scores.accuracy,
                          "macro_f1": scores.macro_f1,
                          "recall": dict(zip(EXPRESSIONS, scores.recall, strict=True)),
                          "model_sha256": info.sha256, "confusion_png": str(png)}, indent=2))
    else:
        print(format_scores(scores, args.split, len(labels)))
        print(f"model     {info.model_id} {info.version} sha256 {info.sha256[:16]}...")
        print(f"confusion matrix: {png}")
    return 0
