"""The model opened for a run: errors name the model as the operator gave it."""

from __future__ import annotations

import pytest

from edge.expression.classifier import ModelError
from edge.model.loading import open_model


def test_a_broken_model_file_is_named_as_given_not_as_its_cached_copy(tmp_path):
    broken = tmp_path / "mine.onnx"
    broken.write_bytes(b"not an onnx model")
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as error:
        open_model(str(broken), None, 0, cache_dir=cache)
    assert str(broken) in str(error.value) and "not a loadable ONNX model" in str(error.value)
    assert str(cache) not in str(error.value)
