"""Host state in S3, fenced by conditional writes.

The consumer (``S3StateStore``) keeps its whole state in one object, ``s3://BUCKET/PREFIX/state.json``:
the host checkpoint (source position, record counters, outputs' positions) and every site's state
(engines, alarms, the last position applied per partition, the site's own counters). One object,
so a commit is one PUT: a crash leaves the old state or the new one, whole, never sites ahead of the
checkpoint; the counters and the outputs' positions in it are exact, and local ``--out`` files are
cut back to them on restart.

The fence. Starting, a consumer claims the state: it reads ``state.json`` and writes it back with
the next ``epoch`` and its own ``owner`` id, ``If-Match`` the ETag it read (``If-None-Match: *`` when
there is none). Every commit is one PUT ``If-Match`` the ETag of its own last write, carrying its
epoch. Whoever claims later changes that ETag, so an older consumer's next PUT gets 412
PreconditionFailed and it stops (``FencedError``) having written nothing at all; nothing a stale
consumer does is ever visible to the live one. Each body names its owner and commit number, so no
two writes have the same ETag (S3's ETag is the body's MD5). It rests on S3's strong
read-after-write consistency and its conditional writes (If-Match, If-None-Match, since 2024);
the bucket must have versioning on, so every state ever committed can still be read back. Both are
checked at start: a bucket without versioning, or an endpoint that ignores If-None-Match, is
refused before any state is written.

``S3Objects`` and ``S3SiteStates`` (one object per site, each written If-Match the ETag last seen)
serve the KCL record processor, whose shard leases and checkpoints the KCL keeps.

Throttling (503 SlowDown, 500, RequestTimeout) is retried with exponential backoff and jitter;
after ``attempts`` it raises, and the batch is replayed from the last checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
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

    def request(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
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
            response = self.request(self.client.get_object, Bucket=self.bucket, Key=key)
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
            response = self.request(self.client.put_object, Bucket=self.bucket, Key=key, Body=dumps(document),
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
            response = self.request(self.client.list_objects_v2, **kwargs)
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


STORE_VERSION = 1  # the layout of state.json; another layout is refused, never rewritten
STATE = "state.json"
_OLDER_LAYOUT = ("host.json", "sites/")  # one object per site and host.json, fenced one at a time


class S3StateStore:
    """The host's ``StateStore`` on S3: one object, claimed with the next epoch at start, then each
    commit one PUT If-Match this consumer's own last write."""

    def __init__(self, client: Any, url: str, *, fault: Callable[[str], None] = lambda point: None,
                 owner: str | None = None, **retry: Any) -> None:
        bucket, prefix = parse_s3_url(url)
        self._fault = fault  # tests: "before-put" and "after-put" fall around the commit's one write
        self.atomic = True  # sites, position, counters and outputs' sizes change in one write
        self.objects = S3Objects(client, bucket, **retry)
        self.prefix = prefix
        self.key = f"{prefix}/{STATE}".lstrip("/")
        self.where = self.objects.where(self.key)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.epoch = 0
        self.commits = 0
        self._etag: str | None = None
        self._sites: dict[str, Any] = {}
        self._loaded: dict[str, Any] | None = None
        self._read_etag: str | None = None

    def site_where(self, site: str) -> str:
        return f"{self.where} (site {site})"

    # -- start: refuse what cannot be fenced, then claim -------------------------------------------
    def load(self) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """Reads and checks the state; writes nothing (the host checks it too, then ``claim``s it)."""
        self._refuse_older_layout()
        document, self._read_etag = self._read()
        self._loaded, self._etag = document, None  # nothing may be written before the claim
        checkpoint = document["checkpoint"] if document else None
        self._sites = dict(document["sites"]) if document else {}
        return checkpoint, dict(self._sites)

    def _refuse_older_layout(self) -> None:
        for name in _OLDER_LAYOUT:
            key = f"{self.prefix}/{name}".lstrip("/")
            found = self.objects.request(self.objects.client.list_objects_v2, Bucket=self.objects.bucket,
                                       Prefix=key, MaxKeys=1).get("Contents", [])
            if found:
                raise StateError(
                    f"{self.objects.where(found[0]['Key'])}: written by an older version of moodlens (host.json "
                    f"and one object per site, fenced one object at a time); this version keeps the state in one "
                    f"fenced object, {self.where}. Use a new prefix (and replay the stream) or move the old "
                    "objects away; nothing was overwritten")

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        """The state object (checked) and its ETag; None before the first consumer claimed it."""
        try:
            response = self.objects.request(self.objects.client.get_object, Bucket=self.objects.bucket, Key=self.key)
        except Exception as error:
            if _code(error) in _MISSING:
                return None, None
            raise
        version = response.get("VersionId")
        if not version or version == "null":
            raise StateError(f"{self.where}: the bucket {self.objects.bucket} keeps no versions of it (versioning "
                             "is not enabled); the state needs a versioned bucket so every commit stays readable. "
                             "Turn versioning on; nothing was overwritten")
        try:
            document = json.loads(response["Body"].read())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StateError(f"{self.where}: corrupt state object ({error}); nothing was overwritten") from error
        return _checked(document, self.where), response["ETag"]

    def claim(self) -> bool:
        """Writes the state just loaded back under the next epoch, If-Match what was read; False when
        another consumer wrote in between (load again)."""
        document, etag = self._loaded, self._read_etag
        self.epoch = (int(document["epoch"]) if document else 0) + 1
        self.commits = 0
        body = self._body(document["checkpoint"] if document else None, document["sites"] if document else {})
        try:
            response = self._put(body, {"IfMatch": etag} if etag else {"IfNoneMatch": "*"})
        except _Precondition:
            return False
        if not response.get("VersionId") or response.get("VersionId") == "null":
            raise StateError(f"{self.where}: the bucket {self.objects.bucket} keeps no versions (versioning is not "
                             "enabled); the state needs a versioned bucket so every commit stays readable. "
                             "Turn versioning on (this first, empty state object can then be deleted)")
        self._etag = response["ETag"]
        try:
            self._put(body, {"IfNoneMatch": "*"})  # must fail: the object exists
        except _Precondition:
            return True
        raise StateError(f"{self.where}: the endpoint accepted a write with If-None-Match: * over an existing "
                         "object: it ignores conditional writes, and without them a second consumer could overwrite "
                         "this one's state. Use S3 (or a store that honours If-Match and If-None-Match)")

    # -- commits ------------------------------------------------------------------------------------
    def commit(self, checkpoint: Mapping[str, Any], sites: Mapping[str, Mapping[str, Any]]) -> None:
        if self._etag is None:
            raise FencedError(f"{self.where}: this consumer has not claimed the state; writing nothing")
        merged = {**self._sites, **sites}
        self.commits += 1
        body = self._body(checkpoint, merged)
        self._fault("before-put")
        try:
            response = self._put(body, {"IfMatch": self._etag})
        except _Precondition:
            current, etag = self._read()
            if current is None or (current["owner"], current["commit"]) != (self.owner, self.commits):
                holder = (f"{current['owner']}, epoch {current['epoch']}" if current else "the object was deleted")
                raise FencedError(f"{self.where}: another consumer ({holder}) has taken the state over since this one "
                                  f"({self.owner}, epoch {self.epoch}) claimed it; stopping without writing "
                                  "anything") from None
            response = {"ETag": etag}  # this consumer's own write, whose answer was lost and retried
        self._etag = response["ETag"]
        self._sites = merged
        self._fault("after-put")

    def close(self) -> None:
        return None  # nothing held: the fence is the ETag

    def _body(self, checkpoint: Mapping[str, Any] | None, sites: Mapping[str, Any]) -> dict[str, Any]:
        return {"store": STORE_VERSION, "epoch": self.epoch, "owner": self.owner, "commit": self.commits,
                "checkpoint": checkpoint, "sites": sites}

    def _put(self, body: Mapping[str, Any], condition: Mapping[str, str]) -> Any:
        try:
            return self.objects.request(self.objects.client.put_object, Bucket=self.objects.bucket, Key=self.key,
                                      Body=dumps(body), ContentType="application/json", **condition)
        except Exception as error:
            if _code(error) in _FENCED:
                raise _Precondition from error
            raise


class _Precondition(Exception):  # noqa: N818 - a 412: the condition did not hold
    pass


def _checked(document: Any, where: str) -> dict[str, Any]:
    """The state object's fields, or a ``StateError`` naming the object and the field."""
    if not isinstance(document, dict):
        raise StateError(f"{where}: corrupt state object (not a JSON object); nothing was overwritten")
    if document.get("store") != STORE_VERSION:
        raise StateError(f"{where}: state object format {document.get('store')!r} (another version of moodlens "
                         f"wrote it), this host reads {STORE_VERSION}; nothing was overwritten")
    epoch = document.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise StateError(f"{where}: state object has no valid epoch ({epoch!r}): it cannot be fenced; "
                         "nothing was overwritten")
    for name, kind in (("owner", str), ("commit", int), ("sites", dict)):
        if not isinstance(document.get(name), kind):
            raise StateError(f"{where}: corrupt state object ({name} {document.get(name)!r}); nothing was "
                             "overwritten")
    if document.get("checkpoint") is not None and not isinstance(document["checkpoint"], dict):
        raise StateError(f"{where}: corrupt state object (checkpoint {document['checkpoint']!r}); nothing was "
                         "overwritten")
    return document
