"""Teachers for distillation: float checkpoints or ONNX files, each giving TTA-averaged probabilities.

A checkpoint teacher runs its net wrapped in `Probabilities` with the chosen test-time views, i.e.
the very graph `export_onnx` would write for it; an ONNX teacher runs the file through the edge's
own classifier, so its views are whatever its graph averages. Both see the student's augmented
(and mixed) batch, so the student learns what the teachers say about exactly what it sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from edge.expression.classifier import ExpressionClassifier
from training.export import net_from_checkpoint
from training.network import INPUT_SIZE, VIEWS, Probabilities


class Teacher(Protocol):
    name: str

    def probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 1, 48, 48) float 0..255 -> (N, 7) probabilities, on the batch's device."""
        ...


class CheckpointTeacher:
    def __init__(self, path: Path, views: tuple[str, ...], device: torch.device) -> None:
        net, _ = net_from_checkpoint(path)
        self.model = Probabilities(net, views).eval().to(device)
        self.name = f"{path} ({type(net).__name__}, views {','.join(views)})"

    def probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(pixels).float()


class OnnxTeacher:
    def __init__(self, path: Path, threads: int) -> None:
        self.classifier = ExpressionClassifier(path, threads=threads)
        if self.classifier.info.input_size != INPUT_SIZE:
            raise ValueError(f"teacher {path}: input size {self.classifier.info.input_size}, "
                             f"the training faces are {INPUT_SIZE}x{INPUT_SIZE}")
        self.name = f"{path} (ONNX {self.classifier.info.model_id} {self.classifier.info.version})"

    def probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        probabilities = self.classifier.classify_batch(pixels.detach().float().cpu().numpy())
        return torch.from_numpy(probabilities).to(pixels.device)


def load_teacher(path: Path, views: tuple[str, ...] = VIEWS, device: torch.device | None = None,
                 threads: int = 1) -> Teacher:
    """A .onnx file or a training checkpoint (.pt: model.pt or last.pt) as a teacher."""
    if not path.is_file():
        raise FileNotFoundError(f"teacher {path} does not exist")
    if path.suffix == ".onnx":
        return OnnxTeacher(path, threads)
    return CheckpointTeacher(path, views, device or torch.device("cpu"))


def ensemble_probabilities(teachers: list[Teacher], pixels: torch.Tensor) -> torch.Tensor:
    """The teachers' probabilities, averaged (each already averaged over its test-time views)."""
    return torch.stack([teacher.probabilities(pixels) for teacher in teachers]).mean(dim=0)


def soften(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """Raises a distribution to the power 1/T and renormalises: softmax(logits / T) for any logits
    behind it, which is what the classic distillation loss needs when only probabilities exist."""
    return torch.softmax(torch.log(probabilities.clamp_min(1e-8)) / temperature, dim=1)
