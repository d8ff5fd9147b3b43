"""Wall-clock timing of the classifier, shared by `make bench` and the model card."""

from __future__ import annotations

import time

import numpy as np

from edge.expression.classifier import ExpressionClassifier

WARM_UP_CALLS = 50


def time_per_call_ms(classifier: ExpressionClassifier, batch: np.ndarray, runs: int) -> list[float]:
    """Milliseconds for each of `runs` calls on an already preprocessed batch, after a warm-up."""
    for _ in range(WARM_UP_CALLS):
        classifier.classify_batch(batch)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.classify_batch(batch)
        timings.append((time.perf_counter() - start) * 1000)
    return timings
