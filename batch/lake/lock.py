"""One writer of a lake's data at a time: compaction and maintenance take turns.

* An embedded lake (a folder): `fcntl.flock` on `<lake>/lake.lock`. The kernel drops the lock
  when its process ends, however it ends (kill -9 included), so a lock is never left behind.
  The file says who holds it (pid, host, what, since when), for the message a second run gets.
* An S3 lake (Glue + S3): a lease object `<warehouse>/_moodlens/lake.lease`, taken with S3's
  conditional writes: `If-None-Match: *` creates it only if there is none, `If-Match: <etag>`
  renews or takes over an expired one only if nobody changed it since it was read, and the
  release deletes it only if it is still ours. A lease expires `ttl` after its last renewal (a
  thread renews it every third of that), so a task killed outright blocks the next for at most
  `ttl`. A lease can be lost (a renewal that could not reach S3 for longer than `ttl`); the
  compaction's commit-time dedup keeps the lake right even then.

A second run that finds the lake held waits up to `wait_s` seconds, then gives up with
`LakeBusyError`, naming the holder (the CLI exits 75, EX_TEMPFAIL: try again later).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch.lake.tables import LakeConfig

LOCK_FILE = "lake.lock"
LEASE_KEY = "_moodlens/lake.lease"
LEASE_TTL_S = 600.0
POLL_S = 0.2
DEFAULT_WAIT_S = 300.0


class LakeBusyError(RuntimeError):
    """Another run holds the lake for longer than this one was willing to wait."""


def _holder(purpose: str, expires: float | None = None) -> dict[str, Any]:
    holder: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                              "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if expires is not None:
        holder["expires"] = expires
    return holder


def _describe(holder: Any) -> str:
    if not isinstance(holder, dict):
        return "another run (holder unknown)"
    text = (f"{holder.get('purpose', 'another run')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"since {holder.get('since', '?')}")
    if isinstance(holder.get("expires"), (int, float)):
        expires = dt.datetime.fromtimestamp(holder["expires"], tz=dt.UTC).isoformat(timespec="seconds")
        text += f", lease expires {expires}"
    return text + ")"


@contextlib.contextmanager
def folder_lock(root: Path, purpose: str, wait_s: float = DEFAULT_WAIT_S) -> Iterator[None]:
    """Holds `<root>/lake.lock` for the block; waits up to `wait_s` for another holder to finish."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    deadline = time.monotonic() + wait_s
    with open(path, "a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    try:
                        holder = json.loads(handle.read() or "null")
                    except ValueError:
                        holder = None
                    raise LakeBusyError(f"the lake {root} is held by {_describe(holder)} (lock file {path}); "
                                   f"waited {wait_s:g} s: try again when it has finished") from None
                time.sleep(POLL_S)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(_holder(purpose)))
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def http_status(error: Exception) -> int | None:
    """The HTTP status of a failed boto3 call (None: not an HTTP answer): conditional writes read 404, 409, 412."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


class S3Lease:
    """The lease object of an S3 lake; `client` is a boto3 S3 client (or anything with its calls)."""

    def __init__(self, client: Any, warehouse: str, purpose: str, ttl_s: float = LEASE_TTL_S,
                 clock: Any = time.time) -> None:
        bucket, _, prefix = warehouse.removeprefix("s3://").partition("/")
        self.client, self.bucket, self.purpose, self.ttl_s, self.clock = client, bucket, purpose, ttl_s, clock
        self.key = f"{prefix.rstrip('/')}/{LEASE_KEY}" if prefix.strip("/") else LEASE_KEY
        self.owner = uuid.uuid4().hex
        self.etag: str | None = None
        self.lost = False  # a renewal found the lease taken over

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def _body(self) -> bytes:
        return json.dumps({**_holder(self.purpose, self.clock() + self.ttl_s), "owner": self.owner}).encode()

    def try_take(self) -> dict[str, Any] | None:
        """Takes the lease if it is free or expired: None; else the holder's record."""
        try:
            self.etag = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(),
                                               IfNoneMatch="*")["ETag"]
            return None
        except Exception as error:
            if http_status(error) not in (409, 412):  # 409: another conditional write on the key in flight
                raise
        try:
            current = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as error:
            if http_status(error) == 404:  # released between the two calls: try again
                return {"purpose": "a run that has just finished"}
            raise
        try:
            holder = json.loads(current["Body"].read())
            expires = float(holder["expires"])
        except (ValueError, KeyError, TypeError):
            holder, expires = None, 0.0  # unreadable: treated as expired, replaced conditionally
        if expires > self.clock():
            return holder if isinstance(holder, dict) else {}
        try:
            self.etag = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(),
                                               IfMatch=current["ETag"])["ETag"]
            return None
        except Exception as error:
            if http_status(error) not in (409, 412):
                raise
            return {"purpose": "a run that took over the expired lease first"}

    def renew(self) -> bool:
        """Extends our lease; False when it is no longer ours."""
        try:
            self.etag = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(),
                                               IfMatch=self.etag)["ETag"]
            return True
        except Exception as error:
            if http_status(error) in (404, 412):
                self.lost = True
                return False
            raise

    def release(self) -> None:
        """Deletes the lease if it is still ours (an expired one taken over stays with its new holder)."""
        with contextlib.suppress(Exception):
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)


@contextlib.contextmanager
def s3_lease(lease: S3Lease, wait_s: float = DEFAULT_WAIT_S) -> Iterator[S3Lease]:
    """Holds `lease` for the block, renewed in the background; waits up to `wait_s` for it."""
    deadline = time.monotonic() + wait_s
    while (holder := lease.try_take()) is not None:
        if time.monotonic() >= deadline:
            raise LakeBusyError(f"the lake is held by {_describe(holder)} (lease {lease.where}); "
                           f"waited {wait_s:g} s: try again when it has finished")
        time.sleep(POLL_S)
    stop = threading.Event()

    def keep_renewing() -> None:
        while not stop.wait(lease.ttl_s / 3):
            with contextlib.suppress(Exception):  # S3 unreachable for a moment: the next try renews
                if not lease.renew():
                    return

    renewer = threading.Thread(target=keep_renewing, name="lake-lease", daemon=True)
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        lease.release()


@contextlib.contextmanager
def lake_lock(config: LakeConfig, purpose: str, wait_s: float = DEFAULT_WAIT_S) -> Iterator[None]:
    """The lake's lock for the block: the lock file of a folder lake, the lease of an S3 lake."""
    if not config.properties:
        with folder_lock(config.root, purpose, wait_s):
            yield
        return
    import boto3  # only an S3 lake needs it

    settings = dict(config.properties)
    client = boto3.client("s3", endpoint_url=settings.get("s3.endpoint"), region_name=settings.get("s3.region"),
                          aws_access_key_id=settings.get("s3.access-key-id"),
                          aws_secret_access_key=settings.get("s3.secret-access-key"))
    with s3_lease(S3Lease(client, settings["warehouse"], purpose), wait_s):
        yield
