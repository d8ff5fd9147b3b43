"""Batch augmentation on tensors: one affine warp per image plus photometric jitter.

Done on whole batches with affine_grid/grid_sample because per-image numpy/OpenCV work would
cost more CPU than the network itself at this size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(N, 1, H, W) float 0..255 -> same shape: flip, rotate, scale, shift, brightness, contrast."""
    n = pixels.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-15, 15) * math.pi / 180
    scale = uniform(0.88, 1.12)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, uniform(-0.1, 0.1)], 1),
         torch.stack([sin * flip, cos, uniform(-0.1, 0.1)], 1)], 1)
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    warped = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = warped.mean(dim=(1, 2, 3), keepdim=True)
    contrast = uniform(0.7, 1.3).view(n, 1, 1, 1)
    brightness = uniform(-25, 25).view(n, 1, 1, 1)
    jittered = (warped - mean) * contrast + mean + brightness
    # Random erasing: a grey square hides part of the face, as hands, cups and hair do.
    erase = torch.rand(n, generator=generator) < 0.25
    if erase.any():
        size = pixels.shape[-1] // 4
        ys = torch.randint(0, pixels.shape[-2] - size, (n,), generator=generator)
        xs = torch.randint(0, pixels.shape[-1] - size, (n,), generator=generator)
        for i in torch.nonzero(erase).flatten().tolist():
            jittered[i, :, ys[i]:ys[i] + size, xs[i]:xs[i] + size] = 128.0
    return jittered.clamp(0, 255)
