"""Soft targets from FER+ votes and the filtering of unusable training rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.data import ferplus_distribution, load_split, soft_targets, usable_training_rows

# Vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
NO_ENTRY = [-1] * 10


@pytest.mark.parametrize(("votes", "expected"), [
    ([10, 0, 0, 0, 0, 0, 0, 0, 0, 0], {"neutral": 1.0}),
    ([0, 5, 5, 0, 0, 0, 0, 0, 0, 0], {"happy": 0.5, "surprise": 0.5}),
    ([2, 0, 0, 0, 0, 0, 0, 6, 2, 0], {"neutral": 1.0}),  # contempt and unknown left out
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], {}),  # not a face: no distribution
    (NO_ENTRY, {}),
])
def test_ferplus_votes_map_onto_fer_classes(votes: list[int], expected: dict[str, float]) -> None:
    names = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    dist = ferplus_distribution(np.array([votes], dtype=np.int8))[0]
    assert dict(zip(names, dist.tolist(), strict=True)) == pytest.approx(
        {n: expected.get(n, 0.0) for n in names})


def test_soft_targets_blend_only_where_votes_exist() -> None:
    votes = np.array([[0, 10, 0, 0, 0, 0, 0, 0, 0, 0], NO_ENTRY], dtype=np.int8)
    targets = soft_targets(np.array([6, 6]), votes, ferplus_weight=0.3)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    assert targets[0, 6] == pytest.approx(0.7) and targets[0, 3] == pytest.approx(0.3)
    assert targets[1, 6] == 1.0


def test_blank_and_not_a_face_rows_are_dropped() -> None:
    images = np.random.default_rng(0).integers(0, 255, (3, 48, 48)).astype(np.uint8)
    images[1] = 7  # blank
    votes = np.array([[10, 0, 0, 0, 0, 0, 0, 0, 0, 0], [10] + [0] * 9, [0] * 9 + [8]], dtype=np.int8)
    assert usable_training_rows(images, votes).tolist() == [True, False, False]


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x_train": np.zeros((2, 48, 48), np.uint8)}, "no array y_train"),
    ({"x_train": np.zeros((2, 48, 48), np.uint8), "y_train": np.zeros(3)}, "expected (N, H, W) and (N,)"),
    ({"x_train": np.zeros((1, 48, 48), np.uint8), "y_train": np.array([9])}, "labels outside"),
])
def test_bad_archives_name_the_problem(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises((KeyError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")):
        load_split(path, "train")
