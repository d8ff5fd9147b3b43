"""Exports the trained net to one ONNX file with its identity in the metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import torch

from training.data import EXPRESSIONS
from training.network import INPUT_SIZE, ExpressionNet, Probabilities

INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"


def export_onnx(net: ExpressionNet, path: Path, model_id: str, model_version: str,
                metrics: dict[str, float] | None = None) -> str:
    """Writes `path` and returns its sha256. Batch size stays dynamic."""
    wrapped = Probabilities(net).eval()
    example = torch.full((1, 1, INPUT_SIZE, INPUT_SIZE), 128.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter gives a plain, stable graph for this conv net and needs no
    # onnxscript at export time.
    torch.onnx.export(
        wrapped, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        opset_version=17, dynamo=False,
    )
    model = onnx.load(str(path))
    meta = {
        "moodlens.model_id": model_id,
        "moodlens.model_version": model_version,
        "moodlens.classes": json.dumps(list(EXPRESSIONS)),
        "moodlens.input": json.dumps({"layout": "NCHW", "channels": "gray", "size": INPUT_SIZE,
                                      "range": "0..255 float32"}),
        "moodlens.metrics": json.dumps(metrics or {}),
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()
