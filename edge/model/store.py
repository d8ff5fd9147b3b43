"""The expression model: from a path or an S3 URI, sha256-checked, swapped in while capture goes on.

Checksums: the expected sha256 is either pinned (`--model-sha256`, which also pins the version: a
different file is refused) or read from a sidecar next to the model, ``<model>.sha256`` (``sha256sum``
format or the bare hex digest). A local model may instead carry it in its model card, ``<stem>.json``
with a ``sha256`` field: that is how `training/publish.py` ships ``edge/models/expression.onnx``, so the
shipped default model is verified with no extra flag. A model from S3 with none of these is refused:
the edge never runs an unverified download. A *local* file with none of them is refused too unless the
store is told to trust local files (`trust_local=True`, what `moodlens edge run` does for a path the
operator named): a checksum beside a local file sits under the same permissions as the file, so it
adds no authority, and refusing would only break `--model my.onnx`. Such a file is logged as
unverified; a published checksum, where there is one, is always enforced, and a pin makes it strict.

Signatures (`edge.model.signature`): a store given the publisher's public key runs only models with a
valid Ed25519 signature by it, whatever their source (``<model>.sig`` beside a file or S3 object, the
version's ``model.onnx.sig`` in a registry); the signed sha256 is then the expected one. A registry
channel is never followed without a key: whoever can write its bucket could otherwise put any model
on every edge that follows it.

Caching: verified files live in ``cache_dir/<sha256>.onnx``, written to a temporary name and renamed, so
a crash never leaves a half-downloaded model under a valid name, and a restart without network reuses
the cached copy of an S3 model.

Swapping: `ModelWatcher.current()` returns the classifier in use; `check_now()` (or the polling
thread) looks for a new version cheaply (mtime+size, or the S3 ETag), and if there is one downloads,
verifies and loads it *before* replacing the reference in one assignment. The frame loop keeps
calling the old classifier until then and never waits. A bad new version is logged and ignored.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from edge.expression.classifier import ExpressionClassifier, ModelInfo, file_sha256
from edge.model.s3 import object_or_none, s3_client_or_default
from edge.model.signature import ModelSignatureError, SignatureFile, Signed, key_id, load_public_key, verify

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
Model = TypeVar("Model")


class ModelVerificationError(ValueError):
    """The model's bytes do not match the expected sha256, or no checksum is available."""


class ModelSource(Protocol):
    uri: str
    requires_signature: bool  # refused by a store that holds no public key

    def fingerprint(self) -> str:
        """Changes whenever the model changes; cheap (no download)."""
        ...

    def fetch(self, destination: Path) -> None: ...

    def sidecar_sha256(self) -> str | None:
        """The digest in ``<model>.sha256``, or None when there is no sidecar."""
        ...

    def signature(self) -> SignatureFile:
        """The model's signature file (its ``data`` None when there is none); cheap (no model download)."""
        ...


def parse_sha256(text: str, origin: str) -> str:
    """`sha256sum` output ("<hex>  <name>") or a bare digest, normalised to lower-case hex."""
    fields = text.strip().split()
    digest = fields[0].lower() if fields else ""
    if not _SHA256.fullmatch(digest):
        raise ModelVerificationError(f"{origin} does not hold a sha256 digest: {text[:80]!r}")
    return digest


class LocalFileSource:
    requires_signature = False

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.uri = str(self.path)

    def signature(self) -> SignatureFile:
        path = self.path.with_name(self.path.name + ".sig")
        return SignatureFile(str(path), path.read_bytes() if path.is_file() else None)

    def fingerprint(self) -> str:
        stat = self.path.stat()
        return f"{stat.st_mtime_ns}:{stat.st_size}"

    def fetch(self, destination: Path) -> None:
        with self.path.open("rb") as source, destination.open("wb") as target:
            while block := source.read(1 << 20):
                target.write(block)

    def sidecar_sha256(self) -> str | None:
        """``<model>.sha256``, else the ``sha256`` of the model card ``<stem>.json``; None without either."""
        sidecar = self.path.with_name(self.path.name + ".sha256")
        if sidecar.is_file():
            return parse_sha256(sidecar.read_text(), str(sidecar))
        card = self.path.with_suffix(".json")
        if card.is_file():
            try:
                digest = json.loads(card.read_text()).get("sha256")
            except (ValueError, AttributeError) as error:
                raise ModelVerificationError(f"model card {card} is not a JSON object: {error}") from None
            if digest is not None:
                return parse_sha256(str(digest), f"model card {card}")
        return None


class S3Client(Protocol):
    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...  # noqa: N803

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...  # noqa: N803


class S3Source:
    requires_signature = False

    def __init__(self, uri: str, client: S3Client) -> None:
        match = re.match(r"^s3://([^/]+)/(.+)$", uri)
        if not match:
            raise ValueError(f"not an S3 URI (s3://bucket/key): {uri}")
        self.uri, self.bucket, self.key = uri, match.group(1), match.group(2)
        self.client = client

    def fingerprint(self) -> str:
        head = self.client.head_object(Bucket=self.bucket, Key=self.key)
        return str(head.get("VersionId") or head["ETag"])

    def fetch(self, destination: Path) -> None:
        body = self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"]
        with destination.open("wb") as target:
            for block in iter(lambda: body.read(1 << 20), b""):
                target.write(block)

    def sidecar_sha256(self) -> str | None:
        body = self._beside(".sha256")
        return None if body is None else parse_sha256(body.decode(), f"{self.uri}.sha256")

    def signature(self) -> SignatureFile:
        return SignatureFile(f"{self.uri}.sig", self._beside(".sig"))

    def _beside(self, suffix: str) -> bytes | None:
        return object_or_none(self.client, self.bucket, self.key + suffix)


def source_for(uri: str, s3_client: S3Client | None = None, endpoint_url: str | None = None) -> ModelSource:
    """A path, an ``s3://bucket/key`` URI, or a registry channel (``registry:<root>[#site=S]``)."""
    if uri.startswith("registry:"):
        from edge.model.registry import Registry, RegistrySource, blob_store, parse_registry_uri

        root, site = parse_registry_uri(uri)
        return RegistrySource(Registry(blob_store(root, s3_client, endpoint_url)), site)
    if uri.startswith("s3://"):
        return S3Source(uri, s3_client_or_default(s3_client, endpoint_url))
    return LocalFileSource(uri)


@dataclass(frozen=True)
class ResolvedModel:
    uri: str
    path: Path  # the verified copy in the cache
    sha256: str
    fingerprint: str


class ModelStore:
    """Fetches a model into the cache and verifies it; knows nothing of onnxruntime."""

    def __init__(self, cache_dir: Path | str, pinned_sha256: str | None = None, trust_local: bool = False,
                 public_key: Ed25519PublicKey | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.pinned_sha256 = parse_sha256(pinned_sha256, "the pinned sha256") if pinned_sha256 else None
        self.trust_local = trust_local
        self.public_key = public_key

    def resolve(self, source: ModelSource) -> ResolvedModel:
        fingerprint = source.fingerprint()
        signed = self._signed(source)
        expected = self.pinned_sha256 or source.sidecar_sha256()
        if signed is not None:
            if expected is not None and expected != signed.sha256:
                raise ModelVerificationError(f"{source.uri}: signed for sha256 {signed.sha256}, but expected "
                                             f"{expected}")
            expected = signed.sha256
        if expected is None and not (self.trust_local and isinstance(source, LocalFileSource)):
            raise ModelVerificationError(f"{source.uri}: no sha256 to check it against; pin one or put "
                                         f"a {source.uri}.sha256 sidecar beside it")
        if expected is not None:
            cached = self.cache_dir / f"{expected}.onnx"
            if cached.is_file() and file_sha256(cached) == expected:
                return ResolvedModel(source.uri, cached, expected, fingerprint)
        handle, temporary = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
        os.close(handle)
        partial = Path(temporary)
        try:
            source.fetch(partial)
            actual = file_sha256(partial)
            if expected is None:  # a trusted local file: its own digest names it from here on
                logger.warning("model %s: no checksum published beside it (sidecar, model card or pin); "
                               "using the operator's local file unverified, sha256 %s", source.uri, actual[:12])
                expected = actual
            if actual != expected:
                raise ModelVerificationError(f"{source.uri}: sha256 is {actual}, expected {expected}")
            cached = self.cache_dir / f"{expected}.onnx"
            os.replace(partial, cached)  # only a verified file gets the name
        finally:
            partial.unlink(missing_ok=True)
        return ResolvedModel(source.uri, cached, expected, fingerprint)

    def _signed(self, source: ModelSource) -> Signed | None:
        """What the source's signature vouches for; None when this store holds no key (and may run unsigned)."""
        if self.public_key is None:
            if source.requires_signature:
                raise ModelSignatureError(f"{source.uri}: a registry's models are signed and this edge holds no "
                                          "public key to check them: give it the publisher's key "
                                          "(--model-public-key); nothing loaded")
            return None
        found = source.signature()
        if found.data is None:
            raise ModelSignatureError(f"{source.uri}: not signed (no {found.origin}); this edge runs only models "
                                      f"signed by key {key_id(self.public_key)}")
        signed = verify(found.data, self.public_key, found.origin)
        if found.version is not None and signed.version != found.version:
            raise ModelSignatureError(f"{found.origin}: signed as version {signed.version}, but it is published "
                                      f"as {found.version}; the model is refused")
        return signed


class ModelWatcher(Generic[Model]):
    """Holds the model in use and replaces it, atomically, when its source changes."""

    def __init__(self, source: ModelSource, store: ModelStore, load: Callable[[Path], Model],
                 poll_interval_s: float = 300.0) -> None:
        self.source, self.store, self.load = source, store, load
        self.poll_interval_s = poll_interval_s
        resolved = store.resolve(source)  # the first load must work: no model, no edge
        self._current: tuple[Model, ResolvedModel] = (load(resolved.path), resolved)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def current(self) -> Model:
        """The model to use now. One attribute read: safe from any thread while a swap happens."""
        return self._current[0]

    @property
    def resolved(self) -> ResolvedModel:
        return self._current[1]

    def check_now(self) -> bool:
        """Swaps in a new version if there is one; True when it did. Failures keep the current model."""
        try:
            if self.source.fingerprint() == self.resolved.fingerprint:
                return False
            resolved = self.store.resolve(self.source)
            if resolved.sha256 == self.resolved.sha256:
                self._current = (self._current[0], resolved)  # touched, not changed
                return False
            model = self.load(resolved.path)  # loaded fully before anyone can see it
        except Exception as error:
            self.last_error = f"{type(error).__name__}: {error}"
            logger.warning("model %s: keeping %s, the new version failed: %s", self.source.uri,
                           self.resolved.sha256[:12], self.last_error)
            return False
        self._current = (model, resolved)
        self.last_error = None
        logger.info("model %s: swapped to sha256 %s", self.source.uri, resolved.sha256[:12])
        return True

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="moodlens-model-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            self.check_now()


class SwappingClassifier:
    """An `edge.ports.ExpressionModel` that classifies with the watcher's current model.

    Unpinned, every call reads the watcher's current model. A frame loop calls `pin()` between frames
    instead: the model then stays the same until the next `pin()`, even if the watcher swaps meanwhile,
    so a frame's classifications and the model version stamped on its events always agree.
    """

    def __init__(self, watcher: ModelWatcher[ExpressionClassifier]) -> None:
        self.watcher = watcher
        self._pinned: ExpressionClassifier | None = None

    def pin(self) -> ModelInfo:
        """Holds the watcher's current model until the next `pin()`; returns what it is."""
        self._pinned = self.watcher.current()
        return self._pinned.info

    def _model(self) -> ExpressionClassifier:
        pinned = self._pinned
        return pinned if pinned is not None else self.watcher.current()

    def classify(self, crops: Any) -> np.ndarray:
        return self._model().classify(crops)

    @property
    def info(self) -> ModelInfo:
        return self._model().info

    @property
    def version(self) -> str:
        return self._model().info.version


def classifier_watcher(uri: str, cache_dir: Path | str, pinned_sha256: str | None = None,
                       poll_interval_s: float = 300.0, s3_client: S3Client | None = None,
                       endpoint_url: str | None = None, trust_local: bool = False,
                       public_key_file: Path | None = None) -> ModelWatcher[ExpressionClassifier]:
    public_key = load_public_key(public_key_file) if public_key_file is not None else None
    store = ModelStore(cache_dir, pinned_sha256, trust_local, public_key)
    return ModelWatcher(source_for(uri, s3_client, endpoint_url), store, ExpressionClassifier, poll_interval_s)

