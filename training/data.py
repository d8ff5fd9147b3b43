"""Loads FER2013 arrays and builds training targets. Pure numpy: no torch here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.expressions import EXPRESSIONS

# FER+ vote columns are (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
# unknown, NF). Contempt has no FER2013 class and unknown/NF are not expressions, so those votes
# are left out of the soft target rather than guessed onto a class.
_FERPLUS_TO_FER = {0: 6, 1: 3, 2: 5, 3: 4, 4: 0, 5: 1, 6: 2}
_FERPLUS_NOT_A_FACE = 9


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64, FER2013 label ids
    targets: np.ndarray  # (N, 7) float32, rows sum to 1


def load_split(path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x_NAME, y_NAME) from the archive, checked for shape and label range."""
    with np.load(path) as archive:
        missing = [key for key in (f"x_{name}", f"y_{name}") if key not in archive]
        if missing:
            raise KeyError(f"{path}: no array {', '.join(missing)} (has {sorted(archive.files)})")
        images, labels = archive[f"x_{name}"], archive[f"y_{name}"].astype(np.int64)
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: x_{name} has shape {images.shape}, y_{name} {labels.shape}; "
                         "expected (N, H, W) and (N,)")
    if labels.size and (labels.min() < 0 or labels.max() >= len(EXPRESSIONS)):
        raise ValueError(f"{path}: y_{name} has labels outside 0..{len(EXPRESSIONS) - 1}")
    return images.astype(np.uint8, copy=False), labels


def ferplus_distribution(votes: np.ndarray) -> np.ndarray:
    """Maps FER+ votes (N, 10) to distributions over the 7 FER classes; zero rows where none apply."""
    dist = np.zeros((votes.shape[0], len(EXPRESSIONS)), dtype=np.float32)
    for src, dst in _FERPLUS_TO_FER.items():
        dist[:, dst] = np.clip(votes[:, src], 0, None)
    totals = dist.sum(axis=1, keepdims=True)
    return np.divide(dist, totals, out=np.zeros_like(dist), where=totals > 0)


def soft_targets(labels: np.ndarray, votes: np.ndarray | None, ferplus_weight: float) -> np.ndarray:
    """Blends the FER label with the FER+ annotators' distribution where FER+ has one."""
    onehot = np.eye(len(EXPRESSIONS), dtype=np.float32)[labels]
    if votes is None or ferplus_weight <= 0:
        return onehot
    dist = ferplus_distribution(votes)
    has_votes = dist.sum(axis=1) > 0
    blended = onehot.copy()
    blended[has_votes] = (1 - ferplus_weight) * onehot[has_votes] + ferplus_weight * dist[has_votes]
    return blended


def usable_training_rows(images: np.ndarray, votes: np.ndarray | None) -> np.ndarray:
    """Rows worth training on: not blank, and not voted 'not a face' by most FER+ annotators."""
    keep = images.reshape(images.shape[0], -1).std(axis=1) > 1.0
    if votes is not None:
        has_entry = votes[:, 0] >= 0
        not_a_face = has_entry & (votes[:, _FERPLUS_NOT_A_FACE] * 2 > votes.clip(0).sum(axis=1))
        keep &= ~not_a_face
    return keep


def load_training_split(path: Path, ferplus_weight: float) -> Split:
    images, labels = load_split(path, "train")
    with np.load(path) as archive:
        votes = archive.get("ferplus_votes_train")
    keep = usable_training_rows(images, votes)
    kept_votes = votes[keep] if votes is not None else None
    return Split(images[keep], labels[keep], soft_targets(labels[keep], kept_votes, ferplus_weight))


def load_labelled_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """x_SPLIT (N, H, W) uint8 and y_SPLIT (N,) from the archive, with errors that name the array."""
    if not path.is_file():
        raise FileNotFoundError(f"no archive at {path}")
    with np.load(path, allow_pickle=False) as archive:
        names = [f"x_{split}", f"y_{split}"]
        missing = [n for n in names if n not in archive.files]
        if missing:
            splits = sorted({f[2:] for f in archive.files if f.startswith("x_")})
            raise ValueError(f"{path}: no array {', '.join(missing)}; splits present: {', '.join(splits)}")
        images, labels = archive[names[0]], archive[names[1]]
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{path}: x_{split} must be (N, H, W) and y_{split} (N,); "
                         f"got {images.shape} and {labels.shape}")
    if len(labels) == 0:
        raise ValueError(f"{path}: split {split} is empty")
    if labels.min() < 0 or labels.max() >= len(EXPRESSIONS):
        raise ValueError(f"{path}: y_{split} holds labels outside 0..{len(EXPRESSIONS) - 1}")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)
