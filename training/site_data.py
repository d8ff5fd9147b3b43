"""A site's labelled crops for fine-tuning: the Ground Truth manifest joined to the encrypted crop store.

Each manifest line names a crop (``crop-id``), its camera and day, and its label: the soft label
(``expression-soft``) when there is one, else the class index (``expression``; a human's fix in
`moodlens label review` is one-hot). The held-out part is split by (camera, day), never by crop:
crops of one visit, or of one camera's afternoon, are alike, and a random split would grade the
model on near-copies of its training faces.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from schemas.expressions import EXPRESSIONS
from training.labeling.crops import CropStore


@dataclass(frozen=True)
class SiteData:
    images: np.ndarray   # (N, 48, 48) uint8
    targets: np.ndarray  # (N, 7) float32, rows sum to 1
    groups: tuple[str, ...]  # "camera/day" per row
    missing: int  # manifest lines whose crop is gone (expired, deleted)

    def subset(self, rows: np.ndarray) -> SiteData:
        return SiteData(self.images[rows], self.targets[rows], tuple(self.groups[i] for i in rows), 0)


def _target(line: dict[str, object], where: str) -> np.ndarray:
    soft = line.get("expression-soft")
    if isinstance(soft, dict):
        values = np.array([float(soft.get(name, 0.0)) for name in EXPRESSIONS], dtype=np.float32)
        if values.min() < 0 or not 0.99 <= values.sum() <= 1.01:
            raise ValueError(f"{where}: expression-soft must be shares summing to 1")
        return values / values.sum()
    index = line.get("expression")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(EXPRESSIONS):
        raise ValueError(f"{where}: needs expression-soft or an expression index 0..{len(EXPRESSIONS) - 1}")
    return np.eye(len(EXPRESSIONS), dtype=np.float32)[index]


def load_site_data(manifest: Path, store: CropStore) -> SiteData:
    records = {r.crop_id: r for r in store.records()}
    images, targets, groups, missing = [], [], [], 0
    for number, text in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        where = f"{manifest}:{number}"
        try:
            line = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(line, dict) or not isinstance(line.get("crop-id"), str):
            raise ValueError(f"{where}: needs a crop-id")
        record = records.get(line["crop-id"])
        if record is None:
            missing += 1  # expired or deleted since it was labelled: its label goes with it
            continue
        target = _target(line, where)
        try:
            data = store.read(record)
        except FileNotFoundError:
            missing += 1
            continue
        face = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if face is None:
            raise ValueError(f"{where}: crop {record.crop_id} is not a readable image")
        images.append(cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA))
        targets.append(target)
        groups.append(f"{line.get('camera-id', record.camera_id)}/{line.get('day', record.day)}")
    if not images:
        raise ValueError(f"{manifest}: no labelled crop left to train on ({missing} crops no longer exist)")
    return SiteData(np.stack(images), np.stack(targets), tuple(groups), missing)


def split_by_camera_day(groups: Sequence[str], holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): whole camera-days go to one side, chosen by a seeded hash."""
    if not 0 < holdout < 1:
        raise ValueError(f"--holdout must be between 0 and 1, got {holdout}")
    names = sorted(set(groups))
    if len(names) < 2:
        raise ValueError(f"the manifest covers {len(names)} camera-day; at least 2 are needed to hold one out")
    ranked = sorted(names, key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    held = set(ranked[:max(1, min(len(names) - 1, round(holdout * len(names))))])
    rows = np.arange(len(groups))
    is_held = np.array([g in held for g in groups])
    return rows[~is_held], rows[is_held]
