"""`moodlens label`: opt-in labels for a site's own face crops (Rekognition, then a human review)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.labeling.crops import Consent, CropStore


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = groups.add_parser("label", help="label a site's own face crops (opt-in, see README: privacy)")
    commands = group.add_subparsers(dest="command", required=True)

    collect = commands.add_parser(
        "collect", help="keep a sample of face crops from the site's cameras, encrypted, for labeling (opt-in)",
        description="Refused unless the site file's [labeling] section records consent. Keeps at most "
                    "--per-camera face crops (48x48 grey faces, never whole frames) per camera, spread over hours "
                    "and expressions, one per visit, encrypted at rest, deleted after the retention days. "
                    "Staff areas (exclude_zones) are masked as in `moodlens up`.")
    collect.add_argument("--config", type=Path, default=Path("moodlens.toml"), help="the site file")
    collect.add_argument("--per-camera", type=int, required=True, help="crops to keep per camera")
    collect.add_argument("--cameras", default=None, help="camera ids, comma-separated (default: all)")
    collect.add_argument("--max-frames", type=int, default=None, help="stop each camera after this many frames")
    collect.set_defaults(handler=run_collect)

    rekognition = commands.add_parser(
        "rekognition", help="label crops with Amazon Rekognition DetectFaces into a Ground Truth manifest",
        description="Sends each crop once to DetectFaces (Attributes ALL), keeps only its emotions as a soft "
                    "label over the seven classes, and writes an augmented manifest; doubtful labels go to a "
                    "review list. Prints the number of calls and their cost before it starts; resumable. "
                    "Refused, and nothing sent, unless both the site file's [labeling] section and the crop "
                    "store's consent.json record consent; both are checked again before each crop is sent.")
    rekognition.add_argument("--out", type=Path, required=True, help="manifest (JSON Lines), appended to")
    rekognition.add_argument("--review", type=Path, default=None, help="review list (default: OUT with .review.jsonl)")
    rekognition.add_argument("--dry-run", action="store_true", help="print what it would cost and stop")
    rekognition.add_argument("--rate", type=float, default=5.0, help="calls per second at most (default 5)")
    rekognition.add_argument("--price", type=float, default=None, help="USD per image (default: list price)")
    rekognition.add_argument("--region", default=None)
    rekognition.add_argument("--endpoint-url", default=None)
    rekognition.set_defaults(handler=run_rekognition)

    review = commands.add_parser(
        "review", help="accept or fix the doubtful labels, in the terminal",
        description="Shows each doubtful label's reasons and scores and takes accept / a class / skip. The face "
                    "itself is drawn in the terminal (a 32x32 grey copy, in its scrollback and in any recording "
                    "of the session) only with --show-faces. Refused unless consent is on record.")
    review.add_argument("--manifest", type=Path, required=True)
    review.add_argument("--review", type=Path, default=None)
    review.add_argument("--show-faces", action="store_true",
                        help="draw each face (32x32 grey) in the terminal; it stays in the scrollback")
    review.set_defaults(handler=run_review)

    purge = commands.add_parser("purge", help="delete crops past their retention date now")
    purge.add_argument("--retain-days", type=_retain_days, default=None,
                       help="also delete crops older than this many days (default: the site file's [labeling] "
                            "retention_days when --config is there; `moodlens up` passes it)")
    purge.set_defaults(handler=run_purge)

    withdraw = commands.add_parser(
        "withdraw", help="consent withdrawn: delete every crop, the index, the consent record and the key",
        description="Deletes the crop store's consent record, its key (crops left by a crash can no longer be "
                    "decrypted), every crop and the index; needs no key and can be run again. Clear the site "
                    "file's [labeling] consent lines too, or the next `label collect` records consent again.")
    withdraw.set_defaults(handler=run_withdraw)

    for command in (rekognition, review, purge, withdraw):
        command.add_argument("crops", type=Path, nargs="?", default=None,
                             help="crop store folder (default: the site file's [labeling] crops_dir)")
        command.add_argument("--config", type=Path, default=Path("moodlens.toml"),
                             help="the site file, whose [labeling] section must record consent")
        command.add_argument("--key", type=Path, default=None,
                             help="the crop store's key file (default: the site file's [labeling] key_file)")


def _review_path(out: Path, review: Path | None) -> Path:
    return review or out.with_name(out.name.removesuffix(".jsonl") + ".review.jsonl")


@dataclass(frozen=True)
class _Labeling:
    """Where a site's crop store and key are, and whether its site file records consent now."""

    crops: Path
    key: Path
    config: Path

    @classmethod
    def of(cls, args: argparse.Namespace) -> _Labeling:
        """The store and key given, else the site file's (read only then: purging and withdrawing
        need no consent, so with both given they need no site file either)."""
        from onebox.config import load

        if args.crops is not None and args.key is not None:
            return cls(args.crops, args.key.expanduser(), args.config)
        config = load(args.config)
        return cls(args.crops or config.label_crops_dir, (args.key or config.label_key_file).expanduser(),
                   args.config)

    def site_consent(self) -> Consent | None:
        """Read afresh each time: consent withdrawn in the site file stops a run at its next crop."""
        from onebox.config import load
        from training.labeling.crops import Consent

        return Consent.from_site(load(self.config).values["labeling"])

    def open(self, need_consent: bool = True) -> CropStore:
        from training.labeling.crops import CropStore, load_or_create_key

        if not self.crops.is_dir():
            raise FileNotFoundError(f"no crop store at {self.crops}")
        if not self.key.exists():
            raise FileNotFoundError(f"no key at {self.key}: the crop store's key (--key) is needed to read crops")
        store = CropStore(self.crops, load_or_create_key(self.key), now_ms=int(time.time() * 1000))
        if need_consent:
            store.require_consent(self.site_consent(), check_site=True)
        return store


def run_collect(args: argparse.Namespace) -> int:
    from edge.detection.choice import DetectorChoice, build_detector
    from edge.detection.zones import ZoneMask, parse_polygon
    from edge.events import EventContext
    from edge.expression.classifier import DEFAULT_MODEL
    from edge.model.loading import open_model
    from edge.pipeline import Pipeline
    from edge.publish.sinks import CountingSink
    from edge.sources import ReconnectPolicy, SourceError, open_source, sampled
    from moodlens import __version__
    from onebox.config import load
    from training.labeling.collect import CropSampler
    from training.labeling.crops import Consent, CropStore, load_or_create_key

    if args.per_camera < 1:
        raise ValueError(f"--per-camera must be at least 1, got {args.per_camera}")
    config = load(args.config)
    labeling = config.values["labeling"]
    consent = Consent.from_site(labeling)
    if consent is None:
        print(f"moodlens: error: {args.config}: labeling is off: [labeling] consent_recorded_by and "
              "consent_recorded_at are not set (see README: privacy); nothing collected", file=sys.stderr)
        return 2
    wanted = set(args.cameras.split(",")) if args.cameras else {c.id for c in config.cameras}
    unknown = wanted - {c.id for c in config.cameras}
    if unknown:
        raise ValueError(f"--cameras: {', '.join(sorted(unknown))} not in {args.config} "
                         f"(cameras: {', '.join(c.id for c in config.cameras)})")
    store = CropStore(config.label_crops_dir, load_or_create_key(config.label_key_file), int(time.time() * 1000))
    store.record_consent(consent)
    _, classifier = open_model(str(DEFAULT_MODEL), None, 0)
    info = classifier.pin()
    for camera in (c for c in config.cameras if c.id in wanted):
        detector, _ = build_detector(DetectorChoice())
        zones = ZoneMask([parse_polygon(",".join(f"{v:g}" for v in zone)) for zone in camera.exclude_zones])
        sampler = CropSampler(store, config.site_id, camera.id, args.per_camera)
        pipeline = Pipeline(detector, classifier, CountingSink(),  # no events: this run only samples crops
                            EventContext(config.site_id, camera.id, info.model_id, info.version, __version__),
                            zones=zones, crops=sampler)
        try:
            source = open_source(camera.source, ReconnectPolicy(max_attempts=3), camera.fps)
        except SourceError as error:
            raise ValueError(f"camera {camera.id}: {error}") from None
        try:
            pipeline.run(sampler.until_full(sampled(source.frames(), camera.fps)), max_frames=args.max_frames)
        finally:
            source.close()
        print(f"{camera.id}: kept {sampler.kept} of {args.per_camera} crops "
              f"({pipeline.stats.frames} frames, {pipeline.stats.classified} faces classified)")
    print(f"crop store: {config.label_crops_dir} (encrypted; key {config.label_key_file}; deleted after "
          f"{labeling['retention_days']} days). Next: moodlens label rekognition --config {args.config} "
          "--out manifest.jsonl --dry-run")
    return 0


def run_rekognition(args: argparse.Namespace) -> int:
    from training.labeling.rekognition import PRICE_PER_IMAGE_USD, RekognitionLabeler, already_done, estimate

    labeling = _Labeling.of(args)
    store = labeling.open()
    review_path = _review_path(args.out, args.review)
    records = list(store.records())
    price = PRICE_PER_IMAGE_USD if args.price is None else args.price
    todo, cost = estimate(records, already_done(args.out, review_path), price)
    print(f"{len(records)} crops, {len(records) - todo} already labeled, {todo} to send: "
          f"{todo} DetectFaces calls, about ${cost:.2f} at ${price:.4f} per image (retries extra)")
    if args.dry_run or todo == 0:
        return 0
    import boto3
    from botocore.exceptions import NoCredentialsError

    client = boto3.client("rekognition", region_name=args.region, endpoint_url=args.endpoint_url)
    labeler = RekognitionLabeler(client, store.reader(labeling.site_consent), rate_per_second=args.rate)
    try:
        run = labeler.run(records, args.out, review_path,
                          source_ref=lambda r: str(labeling.crops / "crops" / f"{r.crop_id}.enc"))
    except NoCredentialsError:
        print("moodlens: error: no AWS credentials for Rekognition (set AWS_PROFILE or AWS_ACCESS_KEY_ID)",
              file=sys.stderr)
        return 2
    print(f"labeled {run.labeled}, to review {run.to_review}, calls {run.calls} (retries {run.retries}), "
          f"cost about ${run.cost_usd(price):.2f}; manifest {args.out}, review list {review_path}")
    for message in run.missing:
        print(f"skipped: {message}", file=sys.stderr)
    return 0


def run_review(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from training.labeling.crops import ConsentMissingError
    from training.labeling.review import pending, review

    labeling = _Labeling.of(args)
    store = labeling.open()
    by_id = {r.crop_id: r for r in store.records()}
    items = pending(_review_path(args.manifest, args.review), args.manifest)
    if not items:
        print("nothing to review")
        return 0
    read = store.reader(labeling.site_consent)

    def read_image(crop_id: str) -> np.ndarray | None:
        record = by_id.get(crop_id)
        if record is None:
            return None
        try:
            return cv2.imdecode(np.frombuffer(read(record), np.uint8), cv2.IMREAD_GRAYSCALE)
        except ConsentMissingError:
            raise  # consent gone: the review stops rather than go on
        except (FileNotFoundError, ValueError):
            return None

    counts = review(items, args.manifest, read_image if args.show_faces else None, input, sys.stdout)
    print(f"accepted {counts['accepted']}, fixed {counts['fixed']}, skipped {counts['skipped']}")
    return 0


def _retain_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of days, 1 to 365, got {text!r}") from None
    if not 1 <= days <= 365:
        raise argparse.ArgumentTypeError(f"a whole number of days, 1 to 365, got {days}")
    return days


def run_purge(args: argparse.Namespace) -> int:
    from onebox.config import load

    store = _Labeling.of(args).open(need_consent=False)  # deleting needs no consent
    retain = args.retain_days
    if retain is None and args.config.is_file():
        retain = load(args.config).values["labeling"]["retention_days"]
    gone = store.purged + store.purge(int(time.time() * 1000), retain)
    print(f"deleted {gone} expired crops" + (f" (kept at most {retain} days)" if retain is not None else ""))
    return 0


def run_withdraw(args: argparse.Namespace) -> int:
    from training.labeling.crops import withdraw

    labeling = _Labeling.of(args)
    gone = withdraw(labeling.crops, labeling.key)
    print(f"consent withdrawn: deleted {gone.crops} crops, the index and the consent record in {labeling.crops}"
          f"{f', and the key {labeling.key}' if gone.key_deleted else f' (no key at {labeling.key})'}")
    if labeling.config.is_file() and labeling.site_consent() is not None:
        print(f"{labeling.config} still records consent in [labeling]: clear consent_recorded_by and "
              "consent_recorded_at, or the next `moodlens label collect` records it again")
    return 0
