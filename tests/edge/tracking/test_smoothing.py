from __future__ import annotations

import numpy as np
import pytest

from edge.tracking.smoothing import ExpressionSmoother

HAPPY = np.array([0, 0, 0, 1, 0, 0, 0], dtype=np.float32)
SAD = np.array([0, 0, 0, 0, 1, 0, 0], dtype=np.float32)


def test_first_observation_is_taken_as_is():
    assert ExpressionSmoother().update(HAPPY, 0).tolist() == HAPPY.tolist()


@pytest.mark.parametrize(("elapsed_ms", "happy_left"), [(0, 1.0), (500, 0.5**0.5), (1000, 0.5), (3000, 0.125)])
def test_half_life_is_in_time(elapsed_ms, happy_left):
    smoother = ExpressionSmoother(half_life_ms=1000)
    smoother.update(HAPPY, 0)
    value = smoother.update(SAD, elapsed_ms)
    assert value[3] == pytest.approx(happy_left)
    assert value.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("frame_ms", [33, 100, 250])
def test_same_result_whatever_the_frame_rate(frame_ms):
    smoother = ExpressionSmoother(half_life_ms=1000)
    smoother.update(HAPPY, 0)
    for t in range(frame_ms, 2001, frame_ms):
        value = smoother.update(SAD, t)
    assert value[3] == pytest.approx(0.5 ** (t / 1000))


def test_half_life_must_be_positive():
    with pytest.raises(ValueError, match="half_life_ms"):
        ExpressionSmoother(half_life_ms=0)
