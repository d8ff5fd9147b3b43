"""Runtime expression classifier on onnxruntime. No torch: the edge ships only the ONNX file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from schemas.expressions import EXPRESSIONS

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "expression.onnx"


class ModelError(ValueError):
    """The model file is missing, corrupt, or not shaped like an expression classifier."""


class CropError(ValueError):
    """A face crop that cannot be classified (empty, wrong dimensions, wrong dtype)."""


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    model_id: str
    version: str
    input_size: int
    classes: tuple[str, ...]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_gray_square(crop: np.ndarray, size: int, index: int = 0) -> np.ndarray:
    """Any BGR, BGRA or gray crop to a (size, size) float32 gray image with values 0..255."""
    if not isinstance(crop, np.ndarray):
        raise CropError(f"crop {index}: expected a numpy array, got {type(crop).__name__}")
    if crop.size == 0 or crop.ndim < 2 or crop.shape[0] == 0 or crop.shape[1] == 0:
        raise CropError(f"crop {index}: empty (shape {crop.shape})")
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[:, :, 0]
    if crop.ndim == 3 and crop.shape[2] in (3, 4):
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY if crop.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    elif crop.ndim != 2:
        raise CropError(f"crop {index}: expected (H, W), (H, W, 3) or (H, W, 4), got shape {crop.shape}")
    if crop.dtype != np.uint8:
        if not np.issubdtype(crop.dtype, np.number):
            raise CropError(f"crop {index}: pixel type {crop.dtype} is not numeric")
        crop = np.clip(crop, 0, 255).astype(np.uint8)
    shrinking = crop.shape[0] > size or crop.shape[1] > size
    resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return resized.astype(np.float32)


class ExpressionClassifier:
    """Face crops in, one probability per expression out (rows sum to 1, columns in EXPRESSIONS order)."""

    def __init__(self, model_path: Path | str = DEFAULT_MODEL, threads: int = 1) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        options = ort.SessionOptions()
        # One thread per session: the edge runs several stages on a small CPU and a batch of a few
        # faces gains nothing from more.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for bad files
            raise ModelError(f"model file {path} is not a loadable ONNX model: {error}") from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        if shape is None or len(shape) != 4 or shape[1] != 1 or shape[2] != shape[3] or not isinstance(shape[2], int):
            raise ModelError(f"model file {path}: expected one input shaped (N, 1, S, S), got "
                             f"{[i.shape for i in inputs]}")
        if len(outputs) != 1 or len(outputs[0].shape) != 2 or outputs[0].shape[1] != len(EXPRESSIONS):
            raise ModelError(f"model file {path}: expected one output shaped (N, {len(EXPRESSIONS)}), got "
                             f"{[o.shape for o in outputs]}")
        self._input_name = inputs[0].name
        meta = self._session.get_modelmeta().custom_metadata_map
        classes = tuple(json.loads(meta.get("moodlens.classes", json.dumps(list(EXPRESSIONS)))))
        if classes != EXPRESSIONS:
            raise ModelError(f"model file {path}: classes {classes} differ from {EXPRESSIONS}")
        self.info = ModelInfo(
            path=path, sha256=file_sha256(path), model_id=meta.get("moodlens.model_id", path.stem),
            version=meta.get("moodlens.model_version", "unknown"), input_size=int(shape[2]),
            classes=classes,
        )

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        size = self.info.input_size
        batch = np.empty((len(crops), 1, size, size), dtype=np.float32)
        for i, crop in enumerate(crops):
            batch[i, 0] = to_gray_square(crop, size, i)
        return batch

    def classify(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) float32 probabilities for N crops of any size; an empty list gives (0, 7)."""
        if len(crops) == 0:
            return np.zeros((0, len(EXPRESSIONS)), dtype=np.float32)
        return self.classify_batch(self.preprocess(crops))

    def classify_batch(self, pixels: np.ndarray) -> np.ndarray:
        """Already preprocessed (N, 1, S, S) float32 gray 0..255."""
        result = self._session.run(None, {self._input_name: pixels})[0]
        return np.asarray(result, dtype=np.float32)
