"""K augmented copies of the training faces with the teachers' probabilities on each, computed once.

On a CPU the teachers cost far more than the student: the 4-view VGG teacher takes about 3.2 CPU-s
per batch of 128 where the CompactNet student's training step takes about 0.26 (one thread, this
machine). With `--teacher-cache-copies K`, the teachers see each face in K augmented versions once,
and every epoch draws, for each face, one of its K versions together with what the teachers said
about exactly those pixels. Mixup and cutmix then mix the stored teacher probabilities in the same
proportion as the pixels (an approximation: without the cache the teachers see the mixed image).

Copies are stored one file per copy under the checkpoint folder, keyed by what they depend on
(teacher files' sha256, views, seed, the training rows), so an interrupted run resumes without
recomputing them and a changed teacher is never served stale targets.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from edge.expression.classifier import file_sha256
from training.augment import augment
from training.teachers import Teacher, ensemble_probabilities


@dataclass(frozen=True)
class TeacherCache:
    images: torch.Tensor  # (K, N, 1, 48, 48) uint8: the augmented faces, as the student will see them
    probabilities: torch.Tensor  # (K, N, 7) float32: the teachers' TTA-averaged ensemble on each

    def draw(self, idx: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """For each face index, one of its K copies at random: (pixels float 0..255, teacher probabilities)."""
        copy = torch.randint(self.images.shape[0], (len(idx),), generator=generator)
        return self.images[copy, idx].float(), self.probabilities[copy, idx]


def cache_key(teacher_files: list[str], views: tuple[str, ...], seed: int, images: torch.Tensor) -> str:
    parts = {"teachers": [file_sha256(Path(f)) for f in teacher_files], "views": list(views), "seed": seed,
             "rows": hashlib.sha256(images.numpy().tobytes()).hexdigest()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def build_cache(folder: Path, key: str, copies: int, x_all: torch.Tensor, teachers: list[Teacher], seed: int,
                batch_size: int, device: torch.device) -> TeacherCache:
    """Loads the copies already in `folder` for this key, computes the missing ones (one file each)."""
    folder.mkdir(parents=True, exist_ok=True)
    images, probabilities = [], []
    for k in range(copies):
        path = folder / f"{key}-copy{k}.pt"
        if path.exists():
            stored = torch.load(path, weights_only=True)
        else:
            started = time.time()
            generator = torch.Generator().manual_seed(seed * 1000 + k)  # a copy's augmentation: its own stream
            faces, said = [], []
            for start in range(0, len(x_all), batch_size):
                # Rounded to uint8 before the teachers look: they see exactly what the student will.
                batch = augment(x_all[start:start + batch_size], generator).round().to(torch.uint8)
                faces.append(batch)
                with torch.no_grad():
                    said.append(ensemble_probabilities(teachers, batch.float().to(device)).float().cpu())
            stored = {"images": torch.cat(faces), "probabilities": torch.cat(said)}
            tmp = path.with_suffix(".tmp")
            torch.save(stored, tmp)
            os.replace(tmp, path)
            print(f"teacher cache: copy {k + 1} of {copies} written to {path} ({time.time() - started:.0f}s)",
                  flush=True)
        images.append(stored["images"])
        probabilities.append(stored["probabilities"])
    return TeacherCache(torch.stack(images), torch.stack(probabilities))
