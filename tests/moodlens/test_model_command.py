"""`moodlens model evaluate` scores a labelled split and writes the confusion matrix PNG."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.expression.classifier import ExpressionClassifier
from moodlens.cli import main


def write_split(path: Path, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    images = rng.integers(0, 255, (n, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, n)
    np.savez(path, x_holdout=images, y_holdout=labels)
    return images, labels


def test_evaluate_prints_scores_that_match_the_classifier(
        tmp_path: Path, random_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, labels = write_split(tmp_path / "data.npz")
    png = tmp_path / "confusion.png"
    assert main(["model", "evaluate", "--data", str(tmp_path / "data.npz"), "--split", "holdout",
                 "--model", str(random_model), "--confusion", str(png), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    predicted = ExpressionClassifier(random_model).classify(list(images)).argmax(1)
    assert report["accuracy"] == pytest.approx(float((predicted == labels).mean()))
    assert report["n"] == 50 and set(report["recall"]) == {"angry", "disgust", "fear", "happy", "sad",
                                                           "surprise", "neutral"}
    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] > 400


@pytest.mark.parametrize(("split", "message"), [
    ("test_private", "no array x_test_private, y_test_private; splits present: holdout"),
])
def test_missing_split_names_what_exists(tmp_path: Path, random_model: Path, split: str, message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_split(tmp_path / "data.npz")
    assert main(["model", "evaluate", "--data", str(tmp_path / "data.npz"), "--split", split,
                 "--model", str(random_model)]) == 2
    assert message in capsys.readouterr().err


def test_corrupt_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_split(tmp_path / "data.npz")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00" * 64)
    assert main(["model", "evaluate", "--data", str(tmp_path / "data.npz"), "--split", "holdout",
                 "--model", str(bad)]) == 2
    assert "not a loadable ONNX model" in capsys.readouterr().err
