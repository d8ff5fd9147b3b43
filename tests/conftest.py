"""Fixtures shared across the test packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.moto_server import moto_server

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
