"""Draws a confusion matrix as a PNG with OpenCV, so evaluation needs no plotting library."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CELL, LABEL_W, HEADER_H = 64, 96, 110


def render_confusion(matrix: np.ndarray, classes: tuple[str, ...], title: str) -> np.ndarray:
    """Row-normalised heat map with counts and recall per cell; rows are true labels."""
    n = len(classes)
    width, height = LABEL_W + n * CELL + 20, HEADER_H + n * CELL + 40
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title, (10, 24), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "predicted ->", (LABEL_W, 48), font, 0.45, (80, 80, 80), 1, cv2.LINE_AA)
    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    share = matrix / rows
    for j, name in enumerate(classes):
        x = LABEL_W + j * CELL + 4
        cv2.putText(image, name[:8], (x, HEADER_H - 10), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for i, name in enumerate(classes):
        y = HEADER_H + i * CELL
        cv2.putText(image, name[:9], (6, y + CELL // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for j in range(n):
            x = LABEL_W + j * CELL
            shade = int(255 - 200 * share[i, j])
            cv2.rectangle(image, (x, y), (x + CELL - 2, y + CELL - 2), (255, shade, shade), -1)
            ink = (255, 255, 255) if share[i, j] > 0.55 else (0, 0, 0)
            cv2.putText(image, str(int(matrix[i, j])), (x + 6, y + 26), font, 0.45, ink, 1, cv2.LINE_AA)
            cv2.putText(image, f"{share[i, j]:.0%}", (x + 6, y + 48), font, 0.4, ink, 1, cv2.LINE_AA)
    cv2.putText(image, "rows: true label; cells: count and share of the row", (10, height - 14), font,
                0.4, (80, 80, 80), 1, cv2.LINE_AA)
    return image


def write_confusion_png(matrix: np.ndarray, classes: tuple[str, ...], title: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), render_confusion(matrix, classes, title)):
        raise OSError(f"could not write {path}")
