"""Puts a built report where its readers are: an S3 prefix (the AWS deployment's reports/)."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def parse_s3_prefix(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/?(.*)", uri)
    if not match:
        raise ValueError(f"--out {uri}: an S3 location is s3://BUCKET/prefix/")
    prefix = match.group(2)
    return match.group(1), (prefix.rstrip("/") + "/") if prefix else ""


def upload(files: Sequence[Path], uri: str, client: Any = None) -> list[str]:
    """Uploads each file under the prefix (report.html as text/html, CSVs as text/csv); returns the URIs."""
    bucket, prefix = parse_s3_prefix(uri)
    if client is None:
        import boto3

        client = boto3.client("s3")
    uris = []
    for path in files:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        client.upload_file(str(path), bucket, prefix + path.name, ExtraArgs={"ContentType": kind})
        uris.append(f"s3://{bucket}/{prefix}{path.name}")
    return uris
