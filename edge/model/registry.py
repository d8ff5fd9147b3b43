"""The model registry: published versions, and which one each site (or the whole fleet) runs.

Layout under a root (a local folder or ``s3://bucket/prefix``):

    versions/<version>/model.onnx          the model, never overwritten once published
    versions/<version>/model.onnx.sig      the publisher's Ed25519 signature (`edge.model.signature`)
    versions/<version>/model.onnx.sha256   its digest (sha256sum format)
    versions/<version>/card.json           the model card's figures (accuracy, macro-F1, per class)
    versions/<version>/MODEL_CARD.md       the card itself, when given
    channels/fleet.json                    {"version", "sha256", "previous": [...], "at"}
    channels/sites/<site>.json             the same, for one site; wins over the fleet channel

An edge names the registry as its model, ``registry:<root>`` or ``registry:<root>#site=<site>``
(`edge.model.store.source_for`), and holds the publisher's public key. Its watcher polls the
channel, downloads a newly promoted version, checks its signature and sha256 and swaps it in between
frames; the previous file stays in the model cache, so a rollback swaps back without a download.

Promoting and rolling back first check the version's file against its published sha256 (and its
signature, when the registry is given the public key): a changed or deleted file is refused and the
channel stays as it was, so a channel never names a version an edge would refuse. Every name read
from the registry (a version in a channel, a site) must match a strict pattern before it becomes a
key, so a hand-edited channel cannot point outside ``versions/``. Promoting pushes the running
version onto ``previous``; rolling back pops it. Nothing is ever deleted, so every event's
``model_version`` stays traceable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edge.model.s3 import object_or_none, s3_client_or_default
from edge.model.signature import ModelSignatureError, SignatureFile, read, verify
from locallog.files import write_atomically
from schemas.validation import identifier_problem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# Letters and digits in runs joined by single '.', '_' or '-': no '/', no '..', no leading dot.
_VERSION = re.compile(r"(?=.{1,64}$)[0-9A-Za-z]+(?:[._-][0-9A-Za-z]+)*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
VERSION_RULE = "letters and digits, joined by single '.', '_' or '-', at most 64"


def check_version(version: object, where: str = "version") -> str:
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise RegistryError(f"{where} {version!r}: not a version name ({VERSION_RULE})")
    return version


class RegistryError(ValueError):
    """A registry operation that cannot be done as asked; nothing was changed."""


class BlobStore(Protocol):
    location: str

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...

    def keys(self, prefix: str) -> list[str]: ...


class LocalBlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def put(self, key: str, data: bytes) -> None:
        write_atomically(self._path(key), data)  # a reader sees the old or the new channel, never half of one

    def _path(self, key: str) -> Path:
        if key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
            raise RegistryError(f"registry key {key!r} would leave {self.root}")
        return self.root / key

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()
                      and not p.name.startswith("."))  # write_atomically's temp files are hidden


class S3BlobStore:
    def __init__(self, uri: str, client: Any) -> None:
        match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
        if not match:
            raise RegistryError(f"not an S3 URI (s3://bucket/prefix): {uri}")
        self.location, self.bucket = uri, match.group(1)
        self.prefix = match.group(2).strip("/") + "/" if match.group(2).strip("/") else ""
        self.client = client

    def get(self, key: str) -> bytes | None:
        return object_or_none(self.client, self.bucket, self.prefix + key)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def keys(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            found += [item["Key"][len(self.prefix):] for item in page.get("Contents", [])]
        return sorted(found)


def blob_store(location: str, s3_client: Any = None, endpoint_url: str | None = None) -> BlobStore:
    if location.startswith("s3://"):
        return S3BlobStore(location, s3_client_or_default(s3_client, endpoint_url))
    return LocalBlobStore(location)


@dataclass(frozen=True)
class Published:
    version: str
    sha256: str
    card: dict[str, Any]
    problem: str | None = None  # why the version cannot be read whole (a malformed card, digest)


@dataclass(frozen=True)
class Channel:
    version: str
    sha256: str
    previous: tuple[tuple[str, str], ...]  # (version, sha256), most recent last
    at: str


class Registry:
    """``public_key``: when given, promote and rollback also check the version's signature."""

    def __init__(self, store: BlobStore, public_key: Ed25519PublicKey | None = None) -> None:
        self.store, self.public_key = store, public_key

    # ---------------------------------------------------------- versions

    def publish(self, model: bytes, card: dict[str, Any], version: str, signature: bytes,
                model_card_md: bytes | None = None) -> bool:
        """Uploads a signed version; False when that exact file is already published under it."""
        check_version(version)
        digest = hashlib.sha256(model).hexdigest()
        self._check_signature(signature, version, digest, f"the signature of {version}")
        existing = self.store.get(f"versions/{version}/model.onnx.sha256")
        if existing is not None:
            if _digest_of(existing, version) != digest:
                raise RegistryError(f"version {version} is already published with another file; publish a new version")
            if self.store.get(f"versions/{version}/model.onnx.sig") is None:  # the same file, now signed
                self.store.put(f"versions/{version}/model.onnx.sig", signature)
            return False
        self.store.put(f"versions/{version}/model.onnx", model)
        self.store.put(f"versions/{version}/card.json", json.dumps({**card, "sha256": digest}, indent=2).encode())
        if model_card_md is not None:
            self.store.put(f"versions/{version}/MODEL_CARD.md", model_card_md)
        self.store.put(f"versions/{version}/model.onnx.sig", signature)
        # the digest goes last: a version counts as published only once its checksum is there
        self.store.put(f"versions/{version}/model.onnx.sha256", f"{digest}  model.onnx\n".encode())
        return True

    def versions(self) -> list[Published]:
        """Every published version; one that cannot be read whole comes with its ``problem``."""
        found = []
        for key in self.store.keys("versions/"):
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == "model.onnx.sha256":
                try:
                    found.append(self.get(parts[1]))
                except RegistryError as error:
                    found.append(Published(parts[1], "", {}, str(error)))
        return found

    def get(self, version: str) -> Published:
        digest = self.store.get(f"versions/{version}/model.onnx.sha256") if _VERSION.fullmatch(version) else None
        if digest is None:
            known = ", ".join(p.split("/")[1] for p in self.store.keys("versions/") if p.endswith(".sha256")) or "none"
            raise RegistryError(f"version {version!r} was never published (published: {known})")
        key = f"versions/{version}/card.json"
        try:
            card = json.loads(self.store.get(key) or b"{}")
        except ValueError as error:
            raise RegistryError(f"{self.store.location}/{key}: not JSON ({error})") from None
        if not isinstance(card, dict):
            raise RegistryError(f"{self.store.location}/{key}: not a JSON object")
        return Published(version, _digest_of(digest, version), card)

    def model_bytes(self, version: str) -> bytes:
        data = self.store.get(f"versions/{check_version(version)}/model.onnx")
        if data is None:
            raise RegistryError(f"version {version}: model file missing from {self.store.location}")
        return data

    def signature(self, version: str) -> bytes | None:
        return self.store.get(f"versions/{check_version(version)}/model.onnx.sig")

    def verify(self, version: str, sha256: str | None = None) -> Published:
        """The version, once its file matches its published sha256 (and ``sha256``, when given) and
        carries a signature for that digest; RegistryError naming what is wrong otherwise."""
        published = self.get(version)
        if sha256 is not None and sha256 != published.sha256:
            raise RegistryError(f"version {version}: its published sha256 is {published.sha256}, not {sha256} as "
                                "the channel recorded; nothing changed")
        actual = hashlib.sha256(self.model_bytes(version)).hexdigest()
        if actual != published.sha256:
            raise RegistryError(f"{self.store.location}/versions/{version}/model.onnx: sha256 is {actual}, its "
                                f"published checksum is {published.sha256}: the file was changed after publishing; "
                                "nothing changed")
        signature = self.signature(version)
        if signature is None:
            raise RegistryError(f"version {version}: not signed (no model.onnx.sig); edges refuse it; nothing "
                                "changed. Publish it again with --signing-key to sign it")
        self._check_signature(signature, version, actual, f"{self.store.location}/versions/{version}/model.onnx.sig")
        return published

    def _check_signature(self, signature: bytes, version: str, digest: str, origin: str) -> None:
        try:
            claims = (read(signature, origin)[0] if self.public_key is None
                      else verify(signature, self.public_key, origin))
        except ModelSignatureError as error:
            raise RegistryError(str(error)) from None
        if (claims.version, claims.sha256) != (version, digest):
            raise RegistryError(f"{origin}: signs version {claims.version} sha256 {claims.sha256[:12]}, not "
                                f"{version} sha256 {digest[:12]}; nothing changed")

    # ---------------------------------------------------------- channels

    def channel(self, site: str | None = None) -> Channel | None:
        key = self._channel_key(site)
        data = self.store.get(key)
        if data is None:
            return None
        where = f"{self.store.location}/{key}"
        try:
            raw = json.loads(data)
            previous = tuple((check_version(v, f"{where}: previous"), _sha(d, where)) for v, d in raw["previous"])
            return Channel(check_version(raw["version"], f"{where}: version"), _sha(raw["sha256"], where),
                           previous, str(raw["at"]))
        except RegistryError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise RegistryError(f"{where}: not a channel ({error})") from None

    def resolve(self, site: str | None = None) -> Channel:
        """What a site runs: its own channel, else the fleet's."""
        channel = (self.channel(site) if site else None) or self.channel(None)
        if channel is None:
            raise RegistryError(f"{self.store.location}: nothing promoted yet (fleet-wide or for {site or 'any site'})")
        return channel

    def promote(self, version: str, site: str | None = None) -> Channel:
        published = self.verify(version)
        current = self.channel(site)
        if current is not None and current.version == version:
            return current
        previous = () if current is None else current.previous + ((current.version, current.sha256),)
        return self._write(site, Channel(version, published.sha256, previous[-20:], _now()))

    def rollback(self, site: str | None = None) -> Channel:
        current = self.channel(site)
        if current is None or not current.previous:
            raise RegistryError(f"no previous version to roll back to ({'site ' + site if site else 'fleet'}); "
                                "nothing changed")
        version, digest = current.previous[-1]
        try:
            self.verify(version, digest)
        except RegistryError as error:
            raise RegistryError(f"cannot roll back to {version}: {error}") from None
        return self._write(site, Channel(version, digest, current.previous[:-1], _now()))

    def _write(self, site: str | None, channel: Channel) -> Channel:
        body = {"version": channel.version, "sha256": channel.sha256,
                "previous": [list(p) for p in channel.previous], "at": channel.at}
        self.store.put(self._channel_key(site), json.dumps(body, indent=2).encode())
        return channel

    @staticmethod
    def _channel_key(site: str | None) -> str:
        if site is None:
            return "channels/fleet.json"
        if why := identifier_problem(site):
            raise RegistryError(f"site: {why}")
        return f"channels/sites/{site}.json"


class RegistrySource:
    """A `ModelSource` that follows a registry channel: whatever is promoted for the site, verified."""

    requires_signature = True

    def __init__(self, registry: Registry, site: str | None) -> None:
        self.registry, self.site = registry, site
        self.uri = f"registry:{registry.store.location}" + (f"#site={site}" if site else "")

    def fingerprint(self) -> str:
        channel = self.registry.resolve(self.site)
        return f"{channel.version}:{channel.sha256}"

    def fetch(self, destination: Path) -> None:
        destination.write_bytes(self.registry.model_bytes(self.registry.resolve(self.site).version))

    def sidecar_sha256(self) -> str | None:
        return self.registry.resolve(self.site).sha256

    def signature(self) -> SignatureFile:
        version = self.registry.resolve(self.site).version
        return SignatureFile(f"{self.registry.store.location}/versions/{version}/model.onnx.sig",
                             self.registry.signature(version), version)


def parse_registry_uri(uri: str) -> tuple[str, str | None]:
    """``registry:<root>[#site=<site>]`` -> (root, site)."""
    body = uri.removeprefix("registry:")
    root, _, fragment = body.partition("#")
    site = None
    if fragment:
        key, _, value = fragment.partition("=")
        if key != "site" or not value:
            raise RegistryError(f"{uri}: the fragment must be #site=<site id>")
        site = value
    if not root:
        raise RegistryError(f"{uri}: no registry location after 'registry:'")
    return root, site


def _digest_of(sidecar: bytes, version: str) -> str:
    fields = sidecar.decode(errors="replace").split()
    if not fields or not _SHA256.fullmatch(fields[0]):
        raise RegistryError(f"versions/{version}/model.onnx.sha256: not a sha256 digest")
    return fields[0]


def _sha(value: object, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise RegistryError(f"{where}: {value!r} is not a sha256 digest")
    return value


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
