"""Exports the trained net to one ONNX file with its identity in the metadata."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from training.data import EXPRESSIONS
from training.network import INPUT_SIZE, VIEWS, Probabilities, build_net, width_of

INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"


def export_onnx(net: nn.Module, path: Path, model_id: str, model_version: str,
                metrics: dict[str, float] | None = None, views: tuple[str, ...] = ("face",)) -> str:
    """Writes `path` and returns its sha256. Batch size stays dynamic."""
    wrapped = Probabilities(net, views=views).eval()
    example = torch.full((1, 1, INPUT_SIZE, INPUT_SIZE), 128.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter gives a plain, stable graph for this conv net; its deprecation
    # notice is expected, since choosing it is deliberate.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
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
        "moodlens.test_time_views": json.dumps(list(views)),
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def net_from_checkpoint(checkpoint: Path, arch: str | None = None) -> tuple[nn.Module, dict]:
    """The float net saved in a training checkpoint (model.pt or last.pt), in eval mode, and the state.

    The architecture comes from the checkpoint's "arch" (train.py and distill.py record it; older
    checkpoints are "vgg"), the width from the classifier's weights.
    """
    state = torch.load(checkpoint, weights_only=False)  # nosec B614: our own training checkpoint (optimizer, RNG state)
    weights = state["net"]
    net = build_net(arch or state.get("arch", "vgg"), width_of(weights))
    net.load_state_dict(weights)
    return net.eval(), state


def export_checkpoint(checkpoint: Path, path: Path, model_id: str, model_version: str,
                      views: tuple[str, ...] = ("face",)) -> str:
    """Exports the weights saved in a training checkpoint (model.pt or last.pt)."""
    net, state = net_from_checkpoint(checkpoint)
    metrics = {k: float(v) for k, v in state.get("result", {}).items()}
    return export_onnx(net, path, model_id, model_version, metrics, views)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Export a training checkpoint to ONNX")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--model-id", default="moodlens-expression-vgg32")
    parser.add_argument("--model-version", default="1.0.0")
    parser.add_argument("--views", default="face", help=f"comma-separated test-time views from {VIEWS}")
    cli = parser.parse_args()
    views = tuple(cli.views.split(","))
    print(export_checkpoint(cli.checkpoint, cli.output, cli.model_id, cli.model_version, views=views))
