"""The S3 client a model location on S3 is read with: the caller's, or boto3's own (imported only then,
so an edge whose models are local files never loads the SDK)."""

from __future__ import annotations

from typing import Any


def s3_client_or_default(client: Any, endpoint_url: str | None = None) -> Any:
    if client is not None:
        return client
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url)
