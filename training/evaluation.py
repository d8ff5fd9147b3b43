"""Classification metrics over label ids. Pure numpy, shared by training and `model evaluate`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scores:
    accuracy: float
    macro_f1: float
    recall: tuple[float, ...]  # per class
    confusion: np.ndarray  # (classes, classes), rows = true label, columns = predicted


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def score(truth: np.ndarray, predicted: np.ndarray, classes: int) -> Scores:
    if truth.shape != predicted.shape or truth.size == 0:
        raise ValueError(f"need equal, non-empty label arrays; got {truth.shape} and {predicted.shape}")
    matrix = confusion_matrix(truth, predicted, classes)
    hits = np.diag(matrix).astype(np.float64)
    actual, chosen = matrix.sum(axis=1), matrix.sum(axis=0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    precision = np.divide(hits, chosen, out=np.zeros_like(hits), where=chosen > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)
    # Macro-F1 averages over classes present in the truth, as scikit-learn does with labels=present.
    present = actual > 0
    return Scores(
        accuracy=float(hits.sum() / matrix.sum()),
        macro_f1=float(f1[present].mean()),
        recall=tuple(float(r) for r in recall),
        confusion=matrix,
    )
