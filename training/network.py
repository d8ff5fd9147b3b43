"""The expression CNN. Preprocessing lives inside the graph so the ONNX file is self-describing."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

INPUT_SIZE = 48
# Mean and spread of FER2013 training pixels; baked into the graph so callers pass raw 0..255 gray.
PIXEL_MEAN, PIXEL_STD = 129.4, 65.0


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ExpressionNet(nn.Module):
    """VGG-style net: 4 stages of two 3x3 convs, global average pool, one linear layer.

    Plain 3x3 convolutions run fast both in oneDNN training and in onnxruntime at batch 1;
    width 32 keeps it at ~1.2 M parameters and under a millisecond per face on one core.
    """

    def __init__(self, width: int = 32, classes: int = 7, dropout: float = 0.3) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_conv(1, w), *_conv(w, w), nn.MaxPool2d(2),
            *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w), *_conv(4 * w, 4 * w), nn.MaxPool2d(2),
            *_conv(4 * w, 8 * w), *_conv(8 * w, 8 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * w, classes))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw 0..255 gray pixels (N, 1, 48, 48) to logits (N, 7)."""
        return self.head(self.features((pixels - PIXEL_MEAN) / PIXEL_STD))


def _separable(c_in: int, c_out: int) -> list[nn.Module]:
    """Depthwise 3x3 then pointwise 1x1: about a ninth of a full 3x3 convolution's arithmetic."""
    return [nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
            nn.ReLU(inplace=True), *_conv_1x1(c_in, c_out)]


def _conv_1x1(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class CompactNet(nn.Module):
    """The fast student: a stride-2 stem, then depthwise-separable blocks at 24, 12, 6 and 3 pixels.

    On one core at batch 1, most of ExpressionNet's time goes to its two full-resolution 48x48
    convolutions; a stride-2 stem skips that resolution (the faces are upsampled 48x48 crops
    anyway) and separable blocks cut the rest, so width 32 runs in about a sixth of the time of
    ExpressionNet at width 32 (`benchmarks/student_latency.py`). It learns from the bigger net by
    distillation (training/distill.py). `separable=False` keeps full 3x3 convolutions after the stem.
    """

    def __init__(self, width: int = 32, classes: int = 7, dropout: float = 0.2, separable: bool = True) -> None:
        super().__init__()
        w = width
        block = _separable if separable else _conv
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            *block(w, w), *block(w, 2 * w), nn.MaxPool2d(2),
            *block(2 * w, 2 * w), *block(2 * w, 4 * w), nn.MaxPool2d(2),
            *block(4 * w, 4 * w), *block(4 * w, 8 * w), nn.MaxPool2d(2),
            *block(8 * w, 8 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * w, classes))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw 0..255 gray pixels (N, 1, 48, 48) to logits (N, 7)."""
        return self.head(self.features((pixels - PIXEL_MEAN) / PIXEL_STD))


class _ResidualModule(nn.Module):
    """Two separable convolutions and a stride-2 max pool, beside a stride-2 1x1 shortcut: mini-Xception's module."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            *_separable(c_in, c_out),
            nn.Conv2d(c_out, c_out, 3, padding=1, groups=c_out, bias=False), nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
            nn.MaxPool2d(3, stride=2, padding=1))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.main(x) + self.shortcut(x))


class ResidualNet(nn.Module):
    """The open anchor's shape (mini-Xception) at our width: two full-resolution 3x3 convolutions, then
    four residual separable modules (width, 2x, 4x, 8x channels) that halve the resolution each.

    CompactNet's stride-2 stem saves the 48x48 convolutions but sees the eyes and mouth at half
    resolution; this keeps a thin (`stem`-channel) full-resolution pair and spends the rest lower down.
    Measured as a student it did not pay: width 20 (0.36 ms) scored 63.1% where CompactNet-40
    (0.29 ms) scored 64.1%, under the same teacher (README, "Figures").
    """

    def __init__(self, width: int = 16, classes: int = 7, dropout: float = 0.2, stem: int = 8) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_conv(1, stem), *_conv(stem, stem),
            _ResidualModule(stem, w), _ResidualModule(w, 2 * w), _ResidualModule(2 * w, 4 * w),
            _ResidualModule(4 * w, 8 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * w, classes))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw 0..255 gray pixels (N, 1, 48, 48) to logits (N, 7)."""
        return self.head(self.features((pixels - PIXEL_MEAN) / PIXEL_STD))


# Architectures by the name a checkpoint records ("arch"); checkpoints without one are "vgg".
ARCHITECTURES = ("vgg", "compact", "compact-plain", "residual")


def width_of(weights: Mapping[str, torch.Tensor]) -> int:
    """The width a saved net was built with: every architecture here ends in Linear(8 x width, classes)."""
    return int(weights["head.1.weight"].shape[1]) // 8


def build_net(arch: str = "vgg", width: int = 32) -> nn.Module:
    if arch == "vgg":
        return ExpressionNet(width=width)
    if arch == "compact":
        return CompactNet(width=width)
    if arch == "compact-plain":
        return CompactNet(width=width, separable=False)
    if arch == "residual":
        return ResidualNet(width=width)
    raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")


# Views averaged at inference time: the face, its mirror image, and both zoomed to the central
# 42x42 pixels (FER2013 crops are loose; the detector's boxes vary in margin the same way).
VIEWS = ("face", "mirror", "zoom", "zoom_mirror")
ZOOM_CROP = 42


def _view(pixels: torch.Tensor, name: str) -> torch.Tensor:
    if name.startswith("zoom"):
        margin = (INPUT_SIZE - ZOOM_CROP) // 2
        crop = pixels[:, :, margin:margin + ZOOM_CROP, margin:margin + ZOOM_CROP]
        pixels = nn.functional.interpolate(crop, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                                           align_corners=False)
    if name.endswith("mirror"):
        pixels = torch.flip(pixels, dims=[3])
    return pixels


class Probabilities(nn.Module):
    """What ships: logits turned into probabilities, so the runtime needs no math of its own.

    With several `views`, each face is classified as each view in one batch and the probabilities
    averaged: expressions are left-right symmetric and margins vary, and the average is steadier
    than any single view.
    """

    def __init__(self, net: nn.Module, views: tuple[str, ...] = ("face",)) -> None:
        super().__init__()
        unknown = set(views) - set(VIEWS)
        if not views or unknown:
            raise ValueError(f"views must be a non-empty subset of {VIEWS}, got {views}")
        self.net = net
        self.views = views

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.views == ("face",):
            return torch.softmax(self.net(pixels), dim=1)
        n = pixels.shape[0]
        stacked = torch.cat([_view(pixels, name) for name in self.views], dim=0)
        probabilities = torch.softmax(self.net(stacked), dim=1)
        # Slices rather than a reshape keep the class dimension static in the exported graph.
        views = [probabilities[i * n:(i + 1) * n] for i in range(len(self.views))]
        return torch.stack(views).sum(dim=0) / len(self.views)
