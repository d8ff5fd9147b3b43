"""The drift baseline of a model: what it outputs on the data it was judged on.

`moodlens model drift` compares each camera-day against this: the share of each top class and the
mean top-class probability ("confidence") on FER2013's public test faces. Stored in the model's card
(``drift_baseline`` in ``<model>.json``) so a model and its baseline travel together.

    python -m training.drift_baseline --data ../shared/data/fer2013/fer2013_dev.npz --card edge/models/expression.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from schemas.expressions import EXPRESSIONS


def baseline(probabilities: np.ndarray, split: str) -> dict[str, Any]:
    top = probabilities.argmax(axis=1)
    shares = np.bincount(top, minlength=len(EXPRESSIONS)) / len(top)
    return {"split": split, "faces": len(top),
            "top_class_share": {name: round(float(s), 5) for name, s in zip(EXPRESSIONS, shares, strict=True)},
            "mean_confidence": round(float(probabilities.max(axis=1).mean()), 5),
            "low_quality_share": 0.0}


def classify_faces(model: Path, images: np.ndarray) -> np.ndarray:
    """(N, 7) probabilities of the ONNX file `model` on `images` (gray faces), classified as the edge does."""
    from edge.expression.classifier import ExpressionClassifier

    classifier = ExpressionClassifier(model)
    return np.concatenate([classifier.classify(list(images[i:i + 256])) for i in range(0, len(images), 256)])


def baseline_of(model: Path, images: np.ndarray, split: str) -> dict[str, Any]:
    """The baseline of the ONNX file `model` on `images` (gray faces), classified as the edge does."""
    return baseline(classify_faces(model, images), split)


def main(argv: list[str] | None = None) -> int:
    from training.data import load_labelled_split

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test_public")
    parser.add_argument("--card", type=Path, required=True, help="the model card JSON beside the .onnx")
    args = parser.parse_args(argv)
    images, _ = load_labelled_split(args.data, args.split)
    card = json.loads(args.card.read_text())
    card["drift_baseline"] = baseline_of(args.card.with_suffix(".onnx"), images, args.split)
    args.card.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card["drift_baseline"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
