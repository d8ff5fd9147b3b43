"""`moodlens model publish|list|promote|rollback`: the model registry (a folder or an S3 prefix)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from edge.model_registry import Registry, blob_store

REGISTRY_HELP = "registry location: a folder or s3://bucket/prefix (default: $MOODLENS_MODEL_REGISTRY)"


def add_registry_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser("publish", help="upload a model, its card and figures as a new version")
    publish.add_argument("model", type=Path, help="the .onnx file")
    publish.add_argument("--card", type=Path, default=None, help="figures JSON (default: the model's .json beside it)")
    publish.add_argument("--version", default=None, help="version name (default: the card's 'version')")
    publish.set_defaults(handler=run_publish)
    listing = commands.add_parser("list", help="published versions and what each site runs")
    listing.set_defaults(handler=run_list)
    promote = commands.add_parser("promote", help="make a version the one edges run, fleet-wide or for one site")
    promote.add_argument("version")
    promote.add_argument("--site", default=None)
    promote.set_defaults(handler=run_promote)
    rollback = commands.add_parser("rollback", help="go back to the version that ran before the last promote")
    rollback.add_argument("--site", default=None)
    rollback.set_defaults(handler=run_rollback)
    for command in (publish, listing, promote, rollback):
        command.add_argument("--registry", default=os.environ.get("MOODLENS_MODEL_REGISTRY"), help=REGISTRY_HELP)
        command.add_argument("--endpoint-url", default=None, help="S3 endpoint (tests, S3-compatible stores)")


def _registry(args: argparse.Namespace) -> Registry:
    if not args.registry:
        raise ValueError("no registry: pass --registry or set MOODLENS_MODEL_REGISTRY")
    return Registry(blob_store(args.registry, endpoint_url=args.endpoint_url))


def run_publish(args: argparse.Namespace) -> int:
    if not args.model.is_file():
        raise FileNotFoundError(f"no model file at {args.model}")
    card_path = args.card or args.model.with_suffix(".json")
    card = {}
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except ValueError as error:
            raise ValueError(f"{card_path}: not JSON ({error})") from None
    version = args.version or card.get("version")
    if not version:
        raise ValueError(f"no version: pass --version or give a card with a 'version' ({card_path})")
    markdown = args.model.with_name("MODEL_CARD.md")
    registry = _registry(args)
    fresh = registry.publish(args.model.read_bytes(), card, str(version),
                             markdown.read_bytes() if markdown.is_file() else None)
    published = registry.get(str(version))
    print(f"{'published' if fresh else 'already published'} {version} sha256 {published.sha256} "
          f"to {registry.store.location}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    runs: dict[str, list[str]] = {}
    fleet = registry.channel(None)
    if fleet:
        runs.setdefault(fleet.version, []).append("fleet")
    for key in registry.store.keys("channels/sites/"):
        site = key.rsplit("/", 1)[-1].removesuffix(".json")
        channel = registry.channel(site)
        if channel:
            runs.setdefault(channel.version, []).append(f"site {site}")
    versions = registry.versions()
    if not versions:
        print(f"no versions published in {registry.store.location}")
        return 0
    print(f"{'version':<16} {'sha256':<14} {'accuracy':>8} {'macro-F1':>8}  runs on")
    for item in versions:
        figures = item.card.get("int8") or item.card
        accuracy, macro_f1 = figures.get("accuracy"), figures.get("macro_f1")
        print(f"{item.version:<16} {item.sha256[:12]:<14} {_num(accuracy):>8} {_num(macro_f1):>8}  "
              f"{', '.join(runs.get(item.version, [])) or '-'}")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    channel = _registry(args).promote(args.version, args.site)
    print(f"{args.site or 'fleet'} now runs {channel.version} (sha256 {channel.sha256[:12]}); "
          f"edges pick it up at their next model check")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    channel = _registry(args).rollback(args.site)
    print(f"{args.site or 'fleet'} rolled back to {channel.version} (sha256 {channel.sha256[:12]})")
    return 0


def _num(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"
