"""A trainable float net from a shipped ONNX model, so fine-tuning can start from what the cameras run.

The shipped file is the int8 (QDQ) export of an `ExpressionNet` whose batch norms the exporter
folded into the convolutions: each convolution carries a weight and a bias, and the norms are
gone. Dequantizing the weights gives back the folded float net. To train it further the norms
must come back, and as more than identities: in training mode a norm divides by the batch's own
spread, so an identity norm (mean 0, variance 1) would rescale every channel and wreck the net on
the first step. So each norm is rebuilt from what its convolution actually produces on real faces
(`calibration`): running mean and variance are that channel's, and scale and shift are chosen so
the norm still computes exactly `conv(x) + bias`. The float net then equals the folded one in
evaluation mode and stays close to it in training mode, as a checkpoint from training would.

What does not come back: the weights' lost precision (int8 steps) and the activation quantization
the shipped file applies between layers; `tests/training/test_onnx_base.py` measures how often the
float net and the shipped file agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from training.network import VIEWS, ExpressionNet

CALIBRATION_BATCH = 256
CALIBRATION_FACES = 1024  # real faces that rebuild the batch norms (what fine-tuning and the CLI use)


@dataclass(frozen=True)
class LiftedModel:
    net: ExpressionNet  # in eval mode
    views: tuple[str, ...]  # the test-time views the shipped file averages (export them again)
    model_id: str
    model_version: str


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Initializers, plus DequantizeLinear applied to initializers (the int8 weights as floats) and their Identities."""
    values = {i.name: numpy_helper.to_array(i).copy() for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in values:  # the exporter's shared equal constants
            values[node.output[0]] = values[node.input[0]]
        if node.op_type != "DequantizeLinear" or not all(name in values for name in node.input):
            continue
        q, scale = values[node.input[0]].astype(np.float64), values[node.input[1]].astype(np.float64)
        zero = values[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        values[node.output[0]] = ((q - zero) * scale).astype(np.float32)  # a fresh, writable array
    return values


def _metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def _weights(path: Path, model: onnx.ModelProto) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    values = _constants(model)
    convs: list[tuple[np.ndarray, np.ndarray]] = []
    gemms: list[tuple[np.ndarray, np.ndarray]] = []
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm"):
            if len(node.input) < 3 or not all(name in values for name in node.input[1:3]):
                raise ValueError(f"{path}: {node.op_type} {node.name or node.output[0]} has no constant weight and "
                                 "bias: only a moodlens ExpressionNet can be fine-tuned from ONNX")
            (convs if node.op_type == "Conv" else gemms).append((values[node.input[1]], values[node.input[2]]))
    if len(convs) != 8 or len(gemms) != 1:
        raise ValueError(f"{path}: {len(convs)} convolutions and {len(gemms)} linear layers; a moodlens "
                         "ExpressionNet has 8 and 1 (only an ExpressionNet can be fine-tuned from ONNX)")
    return convs, gemms[0][0], gemms[0][1]


def _norms(net: ExpressionNet) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    layers = list(net.features)
    pairs = [(layer, layers[i + 1]) for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
    return [(conv, norm) for conv, norm in pairs if isinstance(norm, nn.BatchNorm2d)]


def _buffer(norm: nn.BatchNorm2d, name: str) -> torch.Tensor:
    value = getattr(norm, name)
    assert isinstance(value, torch.Tensor), f"a BatchNorm2d tracks {name}"
    return value


@torch.no_grad()
def lift_onnx(path: Path, calibration: np.ndarray) -> LiftedModel:
    """The float `ExpressionNet` inside the shipped ONNX file `path`; `calibration`: gray faces (N, 48, 48)."""
    try:
        model = onnx.load(str(path))
    except Exception as error:  # onnx raises its own decode errors, OSError, ...: all mean the same to a user
        raise ValueError(f"{path}: not a readable ONNX model ({error})") from error
    convs, head_weight, head_bias = _weights(path, model)
    width = convs[0][0].shape[0]
    net = ExpressionNet(width=width).eval()
    pairs = _norms(net)
    for (conv, norm), (weight, bias) in zip(pairs, convs, strict=True):
        if tuple(conv.weight.shape) != weight.shape:
            raise ValueError(f"{path}: a convolution of shape {weight.shape} where ExpressionNet(width={width}) "
                             f"has {tuple(conv.weight.shape)}")
        conv.weight.copy_(torch.from_numpy(weight))
        # First an exact pass-through norm (eval mode: x / sqrt(1 - eps + eps) + bias), to measure with.
        norm.weight.fill_(1.0)
        norm.bias.copy_(torch.from_numpy(bias))
        _buffer(norm, "running_mean").zero_()
        _buffer(norm, "running_var").fill_(1.0 - norm.eps)
    linear = net.head[1]
    assert isinstance(linear, nn.Linear)
    linear.weight.copy_(torch.from_numpy(head_weight))
    linear.bias.copy_(torch.from_numpy(head_bias))

    sums = [torch.zeros(conv.out_channels, dtype=torch.float64) for conv, _ in pairs]
    squares = [torch.zeros(conv.out_channels, dtype=torch.float64) for conv, _ in pairs]
    counts = [0] * len(pairs)

    def recorder(index: int) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            values = output.double().transpose(0, 1).reshape(output.shape[1], -1)
            sums[index] += values.sum(dim=1)
            squares[index] += (values * values).sum(dim=1)
            counts[index] += values.shape[1]
        return hook

    handles = [conv.register_forward_hook(recorder(i)) for i, (conv, _) in enumerate(pairs)]
    try:
        images = torch.from_numpy(np.asarray(calibration, dtype=np.float32)).unsqueeze(1)
        for start in range(0, len(images), CALIBRATION_BATCH):
            net(images[start:start + CALIBRATION_BATCH])
    finally:
        for handle in handles:
            handle.remove()
    if not counts[0]:
        raise ValueError("no calibration faces: the norms are rebuilt from real faces")
    # Each layer's statistics were taken with every earlier layer already computing its final
    # function (the pass-through norms equal the rebuilt ones in eval mode), so one pass serves all.
    for index, (_conv, norm) in enumerate(pairs):
        mean = sums[index] / counts[index]
        variance = (squares[index] / counts[index] - mean * mean).clamp_min(1e-6)
        shift = norm.bias.double() + mean
        _buffer(norm, "running_mean").copy_(mean.float())
        _buffer(norm, "running_var").copy_(variance.float())
        norm.weight.copy_(torch.sqrt(variance + norm.eps).float())
        norm.bias.copy_(shift.float())
    meta = _metadata(model)
    views = tuple(json.loads(meta.get("moodlens.test_time_views", '["face"]')))
    if not views or set(views) - set(VIEWS):
        raise ValueError(f"{path}: unknown test-time views {views} in its metadata")
    return LiftedModel(net.eval(), views, meta.get("moodlens.model_id", "moodlens-expression-vgg32"),
                       meta.get("moodlens.model_version", "unknown"))



def main(argv: list[str] | None = None) -> int:
    """Writes a training checkpoint from an ONNX file, for `training.publish` or `training.distill`."""
    import argparse

    from training.data import load_split

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", type=Path, help="the ONNX file (e.g. edge/models/expression.onnx)")
    parser.add_argument("--data", type=Path, required=True, help="FER2013 .npz archive (training faces calibrate)")
    parser.add_argument("--out", type=Path, default=Path("build/lifted/best.pt"))
    parser.add_argument("--faces", type=int, default=CALIBRATION_FACES)
    args = parser.parse_args(argv)
    images, _ = load_split(args.data, "train")
    try:
        lifted = lift_onnx(args.model, images[:args.faces])
    except ValueError as error:
        print(f"onnx_base: error: {error}")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"net": lifted.net.state_dict(), "arch": "vgg", "views": list(lifted.views),
                "lifted_from": str(args.model)}, args.out)
    print(f"{args.model} -> {args.out} (ExpressionNet, views {', '.join(lifted.views)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
