"""`moodlens model keygen|sign|publish|list|promote|rollback`: the model registry (a folder or an S3 prefix)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from edge.model.registry import Registry, RegistryError, blob_store, check_version
from edge.model.signature import load_public_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

REGISTRY_HELP = "registry location: a folder or s3://bucket/prefix (default: $MOODLENS_MODEL_REGISTRY)"
PUBLIC_KEY_HELP = ("the publisher's public key (PEM): also check the version's signature, as edges do "
                   "(default: $MOODLENS_MODEL_PUBLIC_KEY)")


def add_registry_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keygen = commands.add_parser(
        "keygen", help="make the Ed25519 key pair that signs published models",
        description="Writes a private key (0600; keep it only where models are published) and its public key "
                    "(give it to every edge: `moodlens edge run --model-public-key`). Never overwrites a key.")
    keygen.add_argument("--private-key", type=Path, required=True)
    keygen.add_argument("--public-key", type=Path, required=True)
    keygen.set_defaults(handler=run_keygen)
    signing = commands.add_parser(
        "sign", help="write <model>.sig beside a model file, for edges that hold the public key",
        description="For a model an edge runs from a file or an S3 object rather than a registry: the "
                    "signature covers the file's sha256 and the version name (default: the card's 'version').")
    signing.add_argument("model", type=Path, help="the .onnx file")
    signing.add_argument("--version", default=None, help="version name (default: the card's 'version')")
    signing.set_defaults(handler=run_sign)
    publish = commands.add_parser("publish", help="sign and upload a model, its card and figures as a new version")
    publish.add_argument("model", type=Path, help="the .onnx file")
    publish.add_argument("--card", type=Path, default=None, help="figures JSON (default: the model's .json beside it)")
    publish.add_argument("--version", default=None, help="version name (default: the card's 'version')")
    publish.set_defaults(handler=run_publish)
    listing = commands.add_parser("list", help="published versions and what each site runs")
    listing.set_defaults(handler=run_list)
    promote = commands.add_parser(
        "promote", help="make a version the one edges run, fleet-wide or for one site",
        description="Checks the version's file against its published sha256 and its signature first: a changed, "
                    "missing or unsigned file is refused and the channel stays as it was.")
    promote.add_argument("version")
    promote.add_argument("--site", default=None)
    promote.set_defaults(handler=run_promote)
    rollback = commands.add_parser(
        "rollback", help="go back to the version that ran before the last promote",
        description="Refused, the channel unchanged, when that version's file is gone or changed.")
    rollback.add_argument("--site", default=None)
    rollback.set_defaults(handler=run_rollback)
    for command in (signing, publish):
        command.add_argument("--signing-key", type=Path, default=_env_path("MOODLENS_MODEL_SIGNING_KEY"),
                             help="the publisher's private key, readable by its owner only "
                                  "(default: $MOODLENS_MODEL_SIGNING_KEY)")
    for command in (promote, rollback):
        command.add_argument("--public-key", type=Path, default=_env_path("MOODLENS_MODEL_PUBLIC_KEY"),
                             help=PUBLIC_KEY_HELP)
    for command in (publish, listing, promote, rollback):
        command.add_argument("--registry", default=os.environ.get("MOODLENS_MODEL_REGISTRY"), help=REGISTRY_HELP)
        command.add_argument("--endpoint-url", default=None, help="S3 endpoint (tests, S3-compatible stores)")


def _env_path(name: str) -> Path | None:
    return Path(os.environ[name]) if os.environ.get(name) else None


def _registry(args: argparse.Namespace, public_key: Ed25519PublicKey | None = None) -> Registry:
    if not args.registry:
        raise ValueError("no registry: pass --registry or set MOODLENS_MODEL_REGISTRY")
    return Registry(blob_store(args.registry, endpoint_url=args.endpoint_url), public_key)


def _checking(args: argparse.Namespace) -> Registry:
    """The registry, checking signatures too when a public key is given."""
    return _registry(args, None if args.public_key is None else load_public_key(args.public_key))


def run_keygen(args: argparse.Namespace) -> int:
    from training.signing import generate_key_pair

    key_id = generate_key_pair(args.private_key, args.public_key)
    print(f"key {key_id}: private key {args.private_key} (0600; keep it where models are published, never on an "
          f"edge), public key {args.public_key} (give it to every edge: --model-public-key)")
    return 0


def _signing_key(args: argparse.Namespace) -> Ed25519PrivateKey:
    from training.signing import load_private_key

    if not args.model.is_file():
        raise FileNotFoundError(f"no model file at {args.model}")
    if args.signing_key is None:
        raise ValueError("no signing key: pass --signing-key or set MOODLENS_MODEL_SIGNING_KEY "
                         "(`moodlens model keygen` makes one); edges run only signed models")
    return load_private_key(args.signing_key)


def _card_and_version(args: argparse.Namespace) -> tuple[dict[str, object], str]:
    card_path = getattr(args, "card", None) or args.model.with_suffix(".json")
    card = {}
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except ValueError as error:
            raise ValueError(f"{card_path}: not JSON ({error})") from None
        if not isinstance(card, dict):
            raise ValueError(f"{card_path}: not a JSON object")
    version = args.version or card.get("version")
    if not version:
        raise ValueError(f"no version: pass --version or give a card with a 'version' ({card_path})")
    return card, str(version)


def run_sign(args: argparse.Namespace) -> int:
    from training.signing import sign_file

    private_key = _signing_key(args)
    _, version = _card_and_version(args)
    check_version(version)
    path = sign_file(private_key, args.model, version)
    print(f"signed {args.model} as version {version}: {path}")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from training.signing import sign

    private_key = _signing_key(args)
    card, version = _card_and_version(args)
    markdown = args.model.with_name("MODEL_CARD.md")
    model = args.model.read_bytes()
    registry = _registry(args, private_key.public_key())
    signature = sign(private_key, str(version), hashlib.sha256(model).hexdigest())
    fresh = registry.publish(model, card, str(version), signature,
                             markdown.read_bytes() if markdown.is_file() else None)
    published = registry.get(str(version))
    print(f"{'published' if fresh else 'already published'} {version} sha256 {published.sha256} "
          f"to {registry.store.location}, signed")
    return 0


def run_list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    runs: dict[str, list[str]] = {}
    problems: list[str] = []
    sites: list[str | None] = [None]
    sites += [key.rsplit("/", 1)[-1].removesuffix(".json") for key in registry.store.keys("channels/sites/")]
    for site in sites:
        try:
            channel = registry.channel(site)
        except RegistryError as error:
            problems.append(str(error))
            continue
        if channel:
            runs.setdefault(channel.version, []).append(f"site {site}" if site else "fleet")
    versions = registry.versions()
    if not versions:
        print(f"no versions published in {registry.store.location}")
    else:
        print(f"{'version':<16} {'sha256':<14} {'accuracy':>8} {'macro-F1':>8}  runs on")
    for item in versions:
        if item.problem:
            problems.append(item.problem)
        figures = item.card.get("int8") or item.card
        figures = figures if isinstance(figures, dict) else {}
        accuracy, macro_f1 = figures.get("accuracy"), figures.get("macro_f1")
        print(f"{item.version:<16} {item.sha256[:12] or '?':<14} {_num(accuracy):>8} {_num(macro_f1):>8}  "
              f"{', '.join(runs.get(item.version, [])) or '-'}")
    for problem in problems:
        print(f"problem: {problem}")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    channel = _checking(args).promote(args.version, args.site)
    print(f"{args.site or 'fleet'} now runs {channel.version} (sha256 {channel.sha256[:12]}); "
          f"edges pick it up at their next model check")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    channel = _checking(args).rollback(args.site)
    print(f"{args.site or 'fleet'} rolled back to {channel.version} (sha256 {channel.sha256[:12]})")
    return 0


def _num(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"
