"""Labels crops with Amazon Rekognition DetectFaces, resumably, at a bounded rate and a known cost.

One DetectFaces call per crop (``Attributes=["ALL"]``: the emotions are only returned with ALL).
Of the answer only the emotions, the face confidence and the box are kept; age range, gender and
every other attribute are dropped on receipt and never written anywhere.

Resuming: each answer is appended (and fsynced) to the manifest or the review list before the next
call, and a crop whose id is already in either is never sent again, so an interrupted run continues
where it stopped and pays for each crop once (at most the one crop in flight at the crash twice).

Throttling (ThrottlingException, ProvisionedThroughputExceededException, InternalServerError) is
retried with capped exponential backoff and full jitter; other errors (an invalid image) put the
crop on the review list with the error as its reason, and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from schemas.expressions import EXPRESSIONS
from training.labeling.crops import CropRecord
from training.labeling.emotions import SoftLabel, soft_label

# List price of DetectFaces (Rekognition Image "Group 2" APIs), first 1 M images a month, us-east-1.
# An assumption to check against the pricing page before a large run: override with --price.
PRICE_PER_IMAGE_USD = 0.001
RETRYABLE = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"})
JOB_NAME = "labeling-job/moodlens-rekognition"


class RekognitionClient(Protocol):
    def detect_faces(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ReviewRules:
    min_top_probability: float = 0.6   # below: the label is a guess
    max_unmapped: float = 0.4          # above: mostly CONFUSED/UNKNOWN
    min_face_confidence: float = 90.0  # Rekognition not sure there is a face


@dataclass
class LabelRun:
    planned: int = 0
    skipped_done: int = 0
    calls: int = 0
    retries: int = 0
    labeled: int = 0
    to_review: int = 0
    missing: list[str] = field(default_factory=list)

    def cost_usd(self, price: float = PRICE_PER_IMAGE_USD) -> float:
        return self.calls * price


def estimate(records: Iterable[CropRecord], done: set[str], price: float = PRICE_PER_IMAGE_USD) -> tuple[int, float]:
    """(crops still to send, their cost in USD): what a dry run prints before any call."""
    todo = sum(1 for r in records if r.crop_id not in done)
    return todo, todo * price


def already_done(*paths: Path) -> set[str]:
    done: set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        with path.open() as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    done.add(str(json.loads(line)["crop-id"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise ValueError(f"{path}:{number}: not a manifest line (needs a 'crop-id')") from None
    return done


class RateLimiter:
    """At most ``per_second`` calls a second, evenly spaced (DetectFaces' quota is per second)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_second <= 0:
            raise ValueError(f"rate must be positive, got {per_second}")
        self._interval, self._clock, self._sleep = 1.0 / per_second, clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


class RekognitionLabeler:
    def __init__(self, client: RekognitionClient, read_crop: Callable[[CropRecord], bytes],
                 rules: ReviewRules | None = None, rate_per_second: float = 5.0, max_attempts: int = 6,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.client, self.read_crop = client, read_crop
        self.rules = rules or ReviewRules()
        self.limiter = RateLimiter(rate_per_second, clock, sleep)
        self.max_attempts, self._sleep = max_attempts, sleep
        self._rng = rng or random.Random()  # nosec B311 -- backoff jitter, not security

    def run(self, records: Iterable[CropRecord], manifest: Path, review: Path,
            source_ref: Callable[[CropRecord], str]) -> LabelRun:
        done = already_done(manifest, review)
        run = LabelRun()
        with manifest.open("a") as good, review.open("a") as doubtful:
            for record in records:
                run.planned += 1
                if record.crop_id in done:
                    run.skipped_done += 1
                    continue
                try:
                    image = self.read_crop(record)
                except FileNotFoundError as error:
                    run.missing.append(str(error))
                    continue
                line, reasons = self._label_one(record, image, source_ref(record), run)
                target = doubtful if reasons else good
                if reasons:
                    line["review-reasons"] = reasons
                    run.to_review += 1
                else:
                    run.labeled += 1
                target.write(json.dumps(line) + "\n")
                target.flush()
                os.fsync(target.fileno())
                done.add(record.crop_id)
        return run

    def _label_one(self, record: CropRecord, image: bytes, ref: str,
                   run: LabelRun) -> tuple[dict[str, Any], list[str]]:
        base: dict[str, Any] = {"source-ref": ref, "crop-id": record.crop_id, "site-id": record.site_id,
                                "camera-id": record.camera_id, "day": record.day}
        try:
            response = self._call(image, run)
        except _CallFailedError as failure:
            return base, [f"rekognition error: {failure}"]
        faces = response.get("FaceDetails") or []
        if not faces:
            return base, ["no face found"]
        face = max(faces, key=_box_area)  # the crop's subject; a second face is a reason to review
        label = soft_label(face.get("Emotions") or [])
        if label is None:
            return base, ["no mapped emotion"]
        base.update(manifest_fields(label, float(face.get("Confidence", 0.0))))
        return base, self._doubts(label, float(face.get("Confidence", 0.0)), len(faces), record)

    def _doubts(self, label: SoftLabel, face_confidence: float, faces: int, record: CropRecord) -> list[str]:
        rules, reasons = self.rules, []
        if label.top_probability < rules.min_top_probability:
            reasons.append(f"low confidence: top class {label.top_class} at {label.top_probability:.2f}")
        if label.unmapped > rules.max_unmapped:
            reasons.append(f"mostly unmapped emotions (CONFUSED/UNKNOWN {label.unmapped:.2f})")
        if face_confidence < rules.min_face_confidence:
            reasons.append(f"face confidence {face_confidence:.1f}")
        if faces > 1:
            reasons.append(f"{faces} faces in the crop")
        ours_p = record.model_probabilities
        if ours_p is not None:
            ours = EXPRESSIONS[max(range(len(EXPRESSIONS)), key=lambda i: ours_p[i])]
            if ours != label.top_class:
                reasons.append(f"disagrees with the edge model ({ours} vs {label.top_class})")
        return reasons

    def _call(self, image: bytes, run: LabelRun) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        for attempt in range(self.max_attempts):
            self.limiter.wait()
            run.calls += 1
            try:
                return self.client.detect_faces(Image={"Bytes": image}, Attributes=["ALL"])
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE or attempt == self.max_attempts - 1:
                    raise _CallFailedError(f"{code}: {error.response.get('Error', {}).get('Message', '')}") from None
                run.retries += 1
                self._sleep(self._rng.uniform(0, min(20.0, 0.5 * 2 ** attempt)))
        raise AssertionError("unreachable")


class _CallFailedError(Exception):
    pass


def _box_area(face: dict[str, Any]) -> float:
    box = face.get("BoundingBox", {})
    return float(box.get("Width", 0)) * float(box.get("Height", 0))


def manifest_fields(label: SoftLabel, face_confidence: float) -> dict[str, Any]:
    """The Ground Truth image-classification fields, plus the soft label moodlens trains on."""
    return {
        "expression": EXPRESSIONS.index(label.top_class),
        "expression-metadata": {
            "class-name": label.top_class, "confidence": round(label.top_probability, 4),
            "type": "groundtruth/image-classification", "job-name": JOB_NAME, "human-annotated": "no",
            "creation-date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        },
        "expression-soft": dict(zip(EXPRESSIONS, (round(p, 6) for p in label.probabilities), strict=True)),
        "rekognition": {"unmapped": round(label.unmapped, 4), "face-confidence": round(face_confidence, 2)},
    }
