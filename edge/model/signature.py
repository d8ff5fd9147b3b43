"""Ed25519 signatures on published models: what is signed, and how an edge checks a signature.

A sha256 beside a model catches a damaged download, not a swapped file: whoever can write the file
can write its checksum too. A signature by a key that only the publisher holds does: the private key
stays where models are published (`training.signing`, `moodlens model publish --signing-key`), an
edge holds only the public key (a PEM file, `moodlens model keygen` writes both) and refuses a model
that carries no valid signature by it.

A signature file (``<model>.sig`` beside a file or S3 object, ``versions/<v>/model.onnx.sig`` in the
registry) is JSON::

    {"format": "moodlens-model-signature/1", "version": "1.0.1", "sha256": "<hex>",
     "key_id": "<16 hex>", "signature": "<base64>"}

The signature covers the format, the version and the sha256 (`signed_message`): one signature vouches
for one file under one version name, so a signed old file cannot be passed off as another version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "moodlens-model-signature/1"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelSignatureError(ValueError):
    """A model is unsigned, signed by another key, or its signature does not cover this file."""


@dataclass(frozen=True)
class Signed:
    """What a valid signature vouches for."""

    version: str
    sha256: str
    key_id: str


@dataclass(frozen=True)
class SignatureFile:
    """A source's signature file: where it is looked for, its bytes (None: there is none), and the
    version the source expects it to name (None: the source has no version of its own)."""

    origin: str
    data: bytes | None
    version: str | None = None


def signed_message(version: str, sha256: str) -> bytes:
    return f"{FORMAT}\nversion {version}\nsha256 {sha256}\n".encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def encode(version: str, sha256: str, public_key: Ed25519PublicKey, signature: bytes) -> bytes:
    body = {"format": FORMAT, "version": version, "sha256": sha256, "key_id": key_id(public_key),
            "signature": base64.b64encode(signature).decode()}
    return (json.dumps(body, indent=2) + "\n").encode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (what `moodlens model keygen` writes)."""
    if not path.is_file():
        raise FileNotFoundError(f"no public key at {path} (the model publisher's key, `moodlens model keygen`)")
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError as error:
        raise ModelSignatureError(f"{path}: not a PEM public key ({error})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ModelSignatureError(f"{path}: not an Ed25519 public key ({type(key).__name__})")
    return key


def read(data: bytes, origin: str) -> tuple[Signed, bytes]:
    """The claims of a signature file and the raw signature, checked for shape only."""
    try:
        body = json.loads(data)
        claims = Signed(str(body["version"]), str(body["sha256"]), str(body["key_id"]))
        raw = base64.b64decode(str(body["signature"]), validate=True)
        fmt = body["format"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise ModelSignatureError(f"{origin}: not a model signature file ({type(error).__name__}: {error})") from None
    if fmt != FORMAT:
        raise ModelSignatureError(f"{origin}: signature format {fmt!r}, this edge reads {FORMAT!r}")
    if not _SHA256.fullmatch(claims.sha256):
        raise ModelSignatureError(f"{origin}: 'sha256' is not a sha256 digest")
    return claims, raw


def verify(data: bytes, public_key: Ed25519PublicKey, origin: str) -> Signed:
    """What the signature vouches for, when it is valid under ``public_key``; else ModelSignatureError."""
    claims, raw = read(data, origin)
    trusted = key_id(public_key)
    try:
        public_key.verify(raw, signed_message(claims.version, claims.sha256))
    except InvalidSignature:
        other = "" if claims.key_id == trusted else f" (it names key {claims.key_id})"
        raise ModelSignatureError(f"{origin}: the signature is not valid under the trusted key {trusted}{other}; "
                                  "the model is refused") from None
    return Signed(claims.version, claims.sha256, trusted)
