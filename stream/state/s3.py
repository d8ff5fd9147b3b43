"""Host state in S3, fenced by conditional writes.

Objects under ``s3://BUCKET/PREFIX/``: ``host.json`` (the source position, counters, outputs'
positions) and ``sites/<site>.json`` (one per site: its engine and alarm state and the last position
it applied per partition, so a site can move between consumers on its own).

Fencing. Every object is written with a condition on what this consumer last saw: ``If-Match`` the
ETag it read or wrote, or ``If-None-Match: *`` for an object it has never seen. If another consumer
(a second ECS task, a KCL worker that stole the lease) wrote in between, S3 answers 412
PreconditionFailed and this store raises ``FencedError`` without writing anything more: a stale or
second consumer can never overwrite a newer checkpoint.

Throttling (503 SlowDown, 500, RequestTimeout) is retried with exponential backoff and jitter;
after ``attempts`` it raises, and the batch is replayed from the last checkpoint.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from stream.host.ports import FencedError
from stream.host.sites import StateError
from stream.jsonl import dumps

_RETRY = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500",
          "ThrottlingException", "RequestTimeTooSkewed"}
_FENCED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without slashes at the ends)."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ValueError(f"{url!r} is not an S3 location (expected s3://BUCKET/prefix)")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.strip("/")


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or str(
        response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


class S3Objects:
    """Conditional get/put of JSON objects with retries; remembers each key's ETag (the fence)."""

    def __init__(self, client: Any, bucket: str, *, attempts: int = 6, base_delay_s: float = 0.1,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.bucket = bucket
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.sleep = sleep
        self.etags: dict[str, str] = {}
        self.retries = 0

    def _call(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
        for attempt in range(self.attempts):
            try:
                return operation(**kwargs)
            except Exception as error:  # botocore's ClientError, matched by code: no SDK import here
                if _code(error) not in _RETRY or attempt == self.attempts - 1:
                    raise
                self.retries += 1
                # bandit B311: jitter spreads retries out; it needs no unpredictability, so no CSPRNG
                self.sleep(self.base_delay_s * (2 ** attempt) * (0.5 + random.random()))  # nosec B311
        raise AssertionError("unreachable")

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            response = self._call(self.client.get_object, Bucket=self.bucket, Key=key)
        except Exception as error:
            if _code(error) in _MISSING:
                self.etags.pop(key, None)
                return None
            raise
        body = response["Body"].read()
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StateError(f"{self.where(key)}: corrupt state object ({error})") from error
        if not isinstance(document, dict):
            raise StateError(f"{self.where(key)}: corrupt state object (not a JSON object)")
        self.etags[key] = response["ETag"]
        return document

    def put(self, key: str, document: Mapping[str, Any]) -> None:
        etag = self.etags.get(key)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            response = self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=dumps(document),
                                  ContentType="application/json", **condition)
        except Exception as error:
            if _code(error) in _FENCED:
                raise FencedError(
                    f"{self.where(key)} was written by another consumer since this one "
                    f"{'read it' if etag else 'looked (it did not exist)'}; stopping without overwriting it"
                ) from error
            raise
        self.etags[key] = response["ETag"]

    def keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            response = self._call(self.client.list_objects_v2, **kwargs)
            keys.extend(item["Key"] for item in response.get("Contents", []))
            if not response.get("IsTruncated"):
                return keys
            kwargs["ContinuationToken"] = response["NextContinuationToken"]


class S3SiteStates:
    """One object per site: ``PREFIX/sites/<site>.json`` (the site id URL-quoted)."""

    def __init__(self, objects: S3Objects, prefix: str) -> None:
        self.objects = objects
        self.prefix = prefix

    def key(self, site: str) -> str:
        return f"{self.prefix}/sites/{quote(site, safe='')}.json".lstrip("/")

    def site_where(self, site: str) -> str:
        return self.objects.where(self.key(site))

    def get(self, site: str) -> dict[str, Any] | None:
        return self.objects.get(self.key(site))

    def put(self, site: str, state: Mapping[str, Any]) -> None:
        self.objects.put(self.key(site), state)

    def all(self) -> dict[str, dict[str, Any]]:
        folder = f"{self.prefix}/sites/".lstrip("/")
        states: dict[str, dict[str, Any]] = {}
        for key in self.objects.keys(folder):
            if key.endswith(".json"):
                document = self.objects.get(key)
                if document is not None:
                    states[unquote(key[len(folder):-len(".json")])] = document
        return states


class S3StateStore:
    """The host's ``StateStore`` on S3: changed sites first, then ``host.json``, all fenced."""

    def __init__(self, client: Any, url: str, *, fault: Callable[[str], None] = lambda point: None,
                 **retry: Any) -> None:
        bucket, prefix = parse_s3_url(url)
        self._fault = fault  # tests: "after-sites" falls between the site objects and host.json
        self.atomic = False  # one object per site, then host.json: not one write
        self.where = f"s3://{bucket}/{prefix}"
        self.objects = S3Objects(client, bucket, **retry)
        self.sites = S3SiteStates(self.objects, prefix)
        self.host_key = f"{prefix}/host.json".lstrip("/")

    def site_where(self, site: str) -> str:
        return self.sites.site_where(site)

    def load(self) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        checkpoint = self.objects.get(self.host_key)
        if checkpoint is not None:
            self.where = self.objects.where(self.host_key)
        return checkpoint, self.sites.all()

    def commit(self, checkpoint: Mapping[str, Any], sites: Mapping[str, Mapping[str, Any]]) -> None:
        for site, state in sites.items():
            self.sites.put(site, state)
        self._fault("after-sites")
        self.objects.put(self.host_key, checkpoint)
