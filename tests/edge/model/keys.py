"""Publisher key pairs for the registry and signature tests, made by the real `training.signing` code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from edge.model.registry import LocalBlobStore, Registry
from edge.model.signature import load_public_key
from training.signing import generate_key_pair, load_private_key, sign


@dataclass(frozen=True)
class Keys:
    private: Path
    public: Path

    def sign(self, version: str, model: bytes) -> bytes:
        return sign(load_private_key(self.private), version, hashlib.sha256(model).hexdigest())

    @property
    def public_key(self):
        return load_public_key(self.public)


def make_keys(folder: Path, name: str = "publisher") -> Keys:
    keys = Keys(folder / f"{name}.key", folder / f"{name}.pub")
    generate_key_pair(keys.private, keys.public)
    return keys


def registry_with(root: Path, keys: Keys, *versions: str) -> Registry:
    registry = Registry(LocalBlobStore(root))
    for version in versions:
        model = f"model {version}".encode()
        registry.publish(model, {"version": version, "accuracy": 0.7}, version, keys.sign(version, model))
    return registry
