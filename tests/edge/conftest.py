"""Fixtures for the edge pipeline tests: a tiny stand-in expression model and the sample footage."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
VIDEO = REPO / "data" / "video"


def _export_tiny_model(path: Path) -> None:
    torch = pytest.importorskip("torch")

    class Tiny(torch.nn.Module):
        """Probabilities that follow the crop's brightness, so tests can tell crops apart."""

        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(1, 7)
            with torch.no_grad():
                self.linear.weight.copy_(torch.linspace(-3, 3, 7).reshape(7, 1))
                self.linear.bias.zero_()

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            mean = pixels.mean(dim=(2, 3)) / 255.0 - 0.5
            return torch.softmax(self.linear(mean), dim=1)

    with warnings.catch_warnings():  # the legacy exporter is chosen on purpose: a plain, stable graph
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(Tiny().eval(), (torch.zeros(1, 1, 48, 48),), str(path), input_names=["pixels"],
                          output_names=["probabilities"],
                          dynamic_axes={"pixels": {0: "n"}, "probabilities": {0: "n"}}, opset_version=17,
                          dynamo=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    _export_tiny_model(path)
    return path


@pytest.fixture(scope="session")
def classifier(tiny_model: Path):
    from edge.expression.classifier import ExpressionClassifier

    return ExpressionClassifier(tiny_model)


@pytest.fixture(scope="session")
def face_frames() -> list[np.ndarray]:
    """The first 24 frames of single_face.mp4 (640x360, one frontal face)."""
    import cv2

    capture = cv2.VideoCapture(str(VIDEO / "single_face.mp4"))
    frames = []
    while len(frames) < 24:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    assert len(frames) == 24
    return frames


class ListSink:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def publish(self, event: dict) -> None:
        self.events.append(event)


@pytest.fixture
def sink() -> ListSink:
    return ListSink()
