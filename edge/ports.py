"""The small interfaces between the pure pipeline and its adapters (onnxruntime, publishers); the face
detector's is `edge.detection.detections.FaceDetector`, beside the detections it returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


class ExpressionModel(Protocol):
    """What the pipeline needs of `edge.expression.classifier.ExpressionClassifier`."""

    def classify(self, crops: Sequence[np.ndarray]) -> np.ndarray: ...


class EventSink(Protocol):
    """Where finished events go: a publisher, usually behind the durable spool.

    `publish` must not block on the network: the frame loop calls it inline.
    """

    def publish(self, event: dict[str, Any]) -> None: ...


@runtime_checkable
class ClosableSink(Protocol):
    def close(self) -> None: ...


@runtime_checkable
class SpoolDepth(Protocol):
    """A sink that can say how many events wait to be delivered (for the status line)."""

    def depth(self) -> int: ...


class CropSink(Protocol):
    """Opt-in labeling only (`moodlens label collect`): offered each usable face crop the classifier saw.

    The one place a crop leaves the frame loop; the normal edge passes no CropSink, so crops exist only
    in memory for the instant they are classified."""

    def offer(self, track_id: str, time_ms: int, crop: Any, probabilities: Any) -> None: ...


class FrameProgress(Protocol):
    """How far a recorded source has been played (`edge.state.SourceProgress`): told after each frame
    whether it published events, and at the end whether the source ran out."""

    def frame_done(self, index: int, time_ms: int, published: bool) -> None: ...
    def end(self) -> None: ...
    def flush(self) -> None: ...
