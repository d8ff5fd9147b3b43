"""The model a run starts with, opened through the verifying store as a classifier that follows new versions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from edge.state import state_dir

if TYPE_CHECKING:  # onnxruntime loads only when a model is opened
    from edge.expression.classifier import ExpressionClassifier
    from edge.model.store import ModelWatcher, SwappingClassifier


def model_cache_dir() -> Path:
    """Verified model copies, beside the spool in the edge's state folder."""
    return state_dir() / "models"


def open_model(model: str, pinned_sha256: str | None, poll_interval_s: float, cache_dir: Path | None = None,
               public_key_file: Path | None = None) -> tuple[ModelWatcher[ExpressionClassifier], SwappingClassifier]:
    """`model` (path or s3://) through the verifying store, as a classifier that follows new versions.

    A local path the operator names is trusted when nothing is published to check it against (see
    edge.model.store); a sidecar, a model card (the shipped model's edge/models/expression.json) or
    a pinned sha256 is always enforced. S3 models must verify. S3's endpoint comes from boto3's own
    settings (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, region, credentials). Errors name `model` as
    given, never the verified copy in the cache, which the user has never heard of. With
    `public_key_file` only models signed by that key run (a registry channel needs one).
    """
    from edge.expression.classifier import ModelError
    from edge.model.store import SwappingClassifier, classifier_watcher

    if poll_interval_s < 0:
        raise ValueError("--model-poll-interval must be 0 (never) or positive")
    if not model.startswith(("s3://", "registry:")) and not Path(model).is_file():
        raise ModelError(f"model file {model} does not exist")
    cache = cache_dir or model_cache_dir()
    try:
        watcher = classifier_watcher(model, cache, pinned_sha256=pinned_sha256 or None,
                                     poll_interval_s=poll_interval_s or 300.0, trust_local=True,
                                     public_key_file=public_key_file)
    except ModelError as error:
        cached_copy = re.escape(str(cache)) + r"[/\\][0-9a-fA-F]+\.onnx"
        raise ModelError(re.sub(cached_copy, model, str(error))) from None
    except (OSError, ValueError):
        raise
    except Exception as error:  # botocore's errors (no such bucket or key, no credentials) name the problem
        raise ValueError(f"model {model}: {type(error).__name__}: {error}") from None
    return watcher, SwappingClassifier(watcher)
