"""The S3 client a model location on S3 is read with: the caller's, or boto3's own (imported only then,
so an edge whose models are local files never loads the SDK)."""

from __future__ import annotations

from typing import Any


def s3_client_or_default(client: Any, endpoint_url: str | None = None) -> Any:
    if client is not None:
        return client
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url)


def object_or_none(client: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None where the bucket has no such key (any other error is raised)."""
    from botocore.exceptions import ClientError

    try:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
