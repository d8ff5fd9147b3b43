"""The publisher's side of model signatures: an Ed25519 key pair, and signing a model for the edge.

The private key stays where models are published (a build machine, the operator's laptop): it is
read only from a file nobody but its owner can read, and never goes to an edge or the registry. The
edge holds the public key (`edge.model.signature` owns the signature's format and its check).
The private key file is not passphrase-protected, like an ssh deploy key: a publish runs unattended
in CI; its protection is the file's mode and where it lives.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.model.signature import encode, key_id, signed_message


def generate_key_pair(private_path: Path, public_path: Path) -> str:
    """Writes a new key pair (the private key 0600) and returns its key id; never overwrites a key."""
    for path in (private_path, public_path):
        if path.exists():
            raise ValueError(f"{path} already exists; a key is never overwritten (edges trust the old one)")
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_key = private_key.public_key()
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_key.public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_id(public_key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key; refused when group or others can read its file (whoever reads it can sign)."""
    if not path.is_file():
        raise FileNotFoundError(f"no signing key at {path} (`moodlens model keygen` writes one)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(f"{path}: the model signing key is readable by group or others (mode {mode:04o}); "
                         "anyone who reads it can sign models every edge will run, so it is not used: "
                         f"chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key ({type(key).__name__})")
    return key


def sign(private_key: Ed25519PrivateKey, version: str, sha256: str) -> bytes:
    """The signature file's bytes for ``version`` with that sha256."""
    return encode(version, sha256, private_key.public_key(), private_key.sign(signed_message(version, sha256)))


def sign_file(private_key: Ed25519PrivateKey, model: Path, version: str) -> Path:
    """Writes ``<model>.sig`` beside a model file, what an edge given the public key looks for."""
    signature = model.with_name(model.name + ".sig")
    signature.write_bytes(sign(private_key, version, hashlib.sha256(model.read_bytes()).hexdigest()))
    return signature
