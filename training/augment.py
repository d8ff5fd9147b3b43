"""Batch augmentation on tensors: one affine warp per image plus photometric jitter.

Done on whole batches with affine_grid/grid_sample because per-image numpy/OpenCV work would
cost more CPU than the network itself at this size.
"""

from __future__ import annotations

import math

import numpy as np
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


def mix_batch(pixels: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator, mixup_alpha: float,
              cutmix_alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or cutmix of a batch with a shuffled copy of itself; targets mixed in the same proportion.

    One of the enabled methods (alpha > 0) is chosen per batch, its share lambda ~ Beta(alpha, alpha).
    Cutmix pastes a rectangle of the partner face; lambda becomes the share of pixels kept.
    `rng` is a numpy generator so that a caller can derive it from (seed, step) and resume exactly.
    """
    methods = [name for name, alpha in (("mixup", mixup_alpha), ("cutmix", cutmix_alpha)) if alpha > 0]
    if not methods:
        return pixels, targets
    method = methods[int(rng.integers(len(methods)))]
    lam = float(rng.beta(mixup_alpha, mixup_alpha) if method == "mixup" else rng.beta(cutmix_alpha, cutmix_alpha))
    partner = torch.from_numpy(rng.permutation(pixels.shape[0])).to(pixels.device)
    if method == "mixup":
        mixed = lam * pixels + (1 - lam) * pixels[partner]
    else:
        h, w = pixels.shape[-2:]
        cut_h, cut_w = round(h * math.sqrt(1 - lam)), round(w * math.sqrt(1 - lam))
        y, x = int(rng.integers(h - cut_h + 1)), int(rng.integers(w - cut_w + 1))
        mixed = pixels.clone()
        mixed[:, :, y:y + cut_h, x:x + cut_w] = pixels[partner][:, :, y:y + cut_h, x:x + cut_w]
        lam = 1 - cut_h * cut_w / (h * w)
    return mixed, lam * targets + (1 - lam) * targets[partner]
