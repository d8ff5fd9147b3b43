"""Fixtures shared across the test packages."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# `st.randoms()` imports this module lazily, inside a running test, where pytest's rewrite of it once failed
# on CPython 3.11.7 with "SystemError: AST constructor recursion depth mismatch" (a bug of CPython 3.11's AST
# depth check, not of the test): imported here, at collection, it is rewritten before any test runs.
import hypothesis.strategies._internal.random  # noqa: F401
import pytest
from hypothesis import settings

from tests.support.moto_server import moto_server

# Two ways to run the properties. "gate" (`make test`, CI): each test's examples come from a hash of the
# test, the same on every run, so a change lands or fails on its own merits, never on a draw. "explore"
# (`make explore`): fresh random examples each run, to find what the gate's draw does not; a case it finds
# is kept in its test as an `@example`, and the gate runs it from then on.
settings.register_profile("gate", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
FER_ARCHIVE = SHARED_DATA / "fer2013" / "fer2013_dev.npz"


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server for the whole session; each test uses its own resource names."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Fake credentials and region so boto3 never looks for real ones."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    return aws_endpoint


@pytest.fixture
def aws_client(aws_env: str) -> Callable[[str], Any]:
    """boto3 clients pointed at the session's moto server."""
    import boto3

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=aws_env, region_name="eu-west-1")
    return make


@pytest.fixture
def unique() -> str:
    """A fresh name per test: the moto server lives for the whole session."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained but well-formed expression model, exported the way training exports."""
    import torch

    from training.export import export_onnx
    from training.network import ExpressionNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "expression.onnx"
    export_onnx(ExpressionNet().eval(), path, "test-model", "0.0.1")
    return path
