"""Fixtures for the AWS host tests: boto3 clients pointed at the session's moto server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest


@pytest.fixture
def aws_client(aws_env: str) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=aws_env, region_name="eu-west-1")
    return make


@pytest.fixture
def unique() -> str:
    """A fresh name per test: the moto server lives for the whole session."""
    return uuid.uuid4().hex[:10]
