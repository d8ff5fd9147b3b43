"""The onnxruntime classifier: any crop in, 7 probabilities out; bad models and crops named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.expression.classifier import DEFAULT_MODEL, CropError, ExpressionClassifier, ModelError
from training.export import INPUT_NAME, OUTPUT_NAME

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("crop", [
    RNG.integers(0, 255, (48, 48), dtype=np.uint8),
    RNG.integers(0, 255, (120, 97, 3), dtype=np.uint8),  # BGR, larger, not square
    RNG.integers(0, 255, (20, 30, 4), dtype=np.uint8),  # BGRA, smaller
    RNG.integers(0, 255, (64, 64, 1), dtype=np.uint8),
    RNG.uniform(0, 255, (50, 50)).astype(np.float32),
], ids=["gray48", "bgr", "bgra-small", "gray-channel", "float"])
def test_any_crop_gives_a_probability_row(random_model: Path, crop: np.ndarray) -> None:
    probabilities = ExpressionClassifier(random_model).classify([crop])
    assert probabilities.shape == (1, 7) and probabilities.dtype == np.float32
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert (probabilities >= 0).all()


def test_batch_equals_one_by_one(random_model: Path) -> None:
    classifier = ExpressionClassifier(random_model)
    crops = [RNG.integers(0, 255, (60 + 10 * i, 60, 3), dtype=np.uint8) for i in range(4)]
    together = classifier.classify(crops)
    alone = np.concatenate([classifier.classify([c]) for c in crops])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert classifier.classify([]).shape == (0, 7)


def test_bgr_and_its_gray_agree(random_model: Path) -> None:
    classifier = ExpressionClassifier(random_model)
    gray = RNG.integers(0, 255, (48, 48), dtype=np.uint8)
    bgr = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_allclose(classifier.classify([bgr]), classifier.classify([gray]), atol=1e-6)


@pytest.mark.parametrize(("crop", "message"), [
    (np.zeros((0, 10, 3), np.uint8), "crop 1: empty"),
    (np.zeros((10, 10, 2), np.uint8), "crop 1: expected"),
    (np.zeros((4, 4, 4, 4), np.uint8), "crop 1: expected"),
    ("not an image", "crop 1: expected a numpy array"),
])
def test_bad_crops_are_named(random_model: Path, crop: object, message: str) -> None:
    good = np.zeros((48, 48), np.uint8)
    with pytest.raises(CropError, match=message):
        ExpressionClassifier(random_model).classify([good, crop])  # type: ignore[list-item]


def export_wrong_shape(path: Path, outputs: int) -> Path:
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, outputs))
    torch.onnx.export(net, (torch.zeros(1, 1, 48, 48),), str(path), input_names=[INPUT_NAME],
                      output_names=[OUTPUT_NAME], dynamic_axes={INPUT_NAME: {0: "n"}}, dynamo=False)
    return path


def test_model_errors_name_the_problem(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        ExpressionClassifier(corrupt)
    with pytest.raises(ModelError, match="does not exist"):
        ExpressionClassifier(tmp_path / "missing.onnx")
    with pytest.warns(DeprecationWarning), pytest.raises(ModelError, match=r"output shaped \(N, 7\)"):
        ExpressionClassifier(export_wrong_shape(tmp_path / "five.onnx", 5))


def test_edge_runtime_never_imports_torch() -> None:
    code = ("import sys, edge.expression.classifier, moodlens.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_shipped_model_loads_with_identity() -> None:
    info = ExpressionClassifier(DEFAULT_MODEL).info
    assert info.model_id.startswith("moodlens-expression") and info.version != "unknown"
    assert DEFAULT_MODEL.stat().st_size <= 5 * 1024 * 1024


def test_model_card_names_the_shipped_file() -> None:
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    figures = json.loads((DEFAULT_MODEL.parent / "expression.json").read_text())
    sha = ExpressionClassifier(DEFAULT_MODEL).info.sha256
    assert sha in card and figures["sha256"] == sha
