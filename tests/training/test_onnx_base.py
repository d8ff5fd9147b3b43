"""A float net lifted out of a shipped ONNX file computes what the file computes, and trains from there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.export import export_onnx
from training.network import VIEWS, ExpressionNet, Probabilities
from training.onnx_base import lift_onnx
from training.quantize import quantize


def trained_looking_net(seed: int = 0) -> ExpressionNet:
    """Width 8, random weights and norms with the running statistics a trained net would have."""
    torch.manual_seed(seed)
    net = ExpressionNet(width=8)
    faces = torch.from_numpy(faces_like(256, seed)).unsqueeze(1)
    net.train()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: the statistics of all batches below
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    with torch.no_grad():
        for start in range(0, 256, 64):
            net(faces[start:start + 64])
    return net.eval()


def faces_like(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gradient = np.linspace(40, 200, 48)[None, :, None]
    return np.clip(gradient + rng.normal(0, 30, (count, 48, 48)), 0, 255).astype(np.float32)


def probabilities(net: torch.nn.Module, faces: np.ndarray, views: tuple[str, ...] = ("face",)) -> np.ndarray:
    with torch.no_grad():
        return Probabilities(net, views).eval()(torch.from_numpy(faces).unsqueeze(1)).numpy()


def test_the_lifted_net_equals_the_float_net_that_was_exported(tmp_path: Path) -> None:
    original = trained_looking_net()
    path = tmp_path / "model.onnx"
    export_onnx(original, path, "moodlens-expression-vgg8", "2.3.4", views=VIEWS)
    lifted = lift_onnx(path, faces_like(128, seed=1))
    faces = faces_like(64, seed=2)
    assert np.allclose(probabilities(lifted.net, faces), probabilities(original, faces), atol=1e-5)
    assert (lifted.views, lifted.model_id, lifted.model_version) == (VIEWS, "moodlens-expression-vgg8", "2.3.4")


def test_in_training_mode_the_rebuilt_norms_compute_the_same_on_the_calibration_faces(tmp_path: Path) -> None:
    """A norm in training mode divides by the batch's own spread: an identity norm would change the net."""
    path = tmp_path / "model.onnx"
    export_onnx(trained_looking_net(), path, "m", "1")
    calibration = faces_like(96, seed=3)
    lifted = lift_onnx(path, calibration).net
    evaluated = probabilities(lifted, calibration)
    lifted.train()
    lifted.head[0].p = 0.0  # dropout is not what is under test
    with torch.no_grad():
        trained = torch.softmax(lifted(torch.from_numpy(calibration).unsqueeze(1)), dim=1).numpy()
    assert np.allclose(trained, evaluated, atol=1e-4)


def test_an_int8_file_lifts_to_the_net_it_was_quantized_from_within_its_weights_precision(tmp_path: Path) -> None:
    original = trained_looking_net(seed=4)
    float_path, int8_path = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export_onnx(original, float_path, "m", "1")
    quantize(float_path, int8_path, faces_like(128, seed=5))
    lifted = lift_onnx(int8_path, faces_like(128, seed=6)).net
    faces = faces_like(200, seed=7)
    expected, got = probabilities(original, faces), probabilities(lifted, faces)
    assert (expected.argmax(1) == got.argmax(1)).mean() >= 0.95
    assert np.abs(expected - got).max() < 0.1


def test_a_file_that_is_not_an_expression_net_is_named_with_the_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"garbage.onnx: not a readable ONNX model"):
        lift_onnx(garbage, faces_like(4, 0))
    other = tmp_path / "other.onnx"
    from training.network import CompactNet
    export_onnx(CompactNet(width=8).eval(), other, "m", "1")
    with pytest.raises(ValueError, match=r"other.onnx: .*only an? (moodlens )?ExpressionNet can be fine-tuned"):
        lift_onnx(other, faces_like(4, 0))


def test_int8_weights_fit_in_seven_bits_so_cpus_without_vnni_cannot_saturate(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    float_path, int8_path = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export_onnx(trained_looking_net(seed=8), float_path, "m", "1")
    quantize(float_path, int8_path, faces_like(64, seed=9))
    weights = [numpy_helper.to_array(i) for i in onnx.load(str(int8_path)).graph.initializer
               if i.name.endswith("_quantized") and i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4]
    assert len(weights) == 8
    assert all(int(np.abs(w.astype(np.int16)).max()) <= 64 for w in weights)
