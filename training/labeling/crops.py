"""The opt-in crop store: face crops (never whole frames) encrypted at rest, with consent and expiry.

Layout of a store folder:

    consent.json          who recorded the site's consent setting, when, for what, retention days
    index.jsonl           one line per crop: id, site, camera, event time, expiry, the edge model's
                          probabilities at collection time (for the "disagreeing" review rule)
    crops/<id>.enc        the crop's JPEG bytes, Fernet-encrypted (AES-128-CBC + HMAC-SHA256)

The key never sits in the store: it is a file the operator keeps elsewhere (default
``~/.moodlens/label.key``, created 0600 on first use). Every open of the store deletes what has
expired, so a crop outlives its retention date only while nothing touches the store; `purge` is
also a command. Without a consent record the store refuses to open for writing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from locallog.files import write_atomically

_CROP_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
DAY_MS = 86_400_000


class ConsentMissingError(PermissionError):
    """The site file has not recorded consent for labeling; nothing is collected."""


@dataclass(frozen=True)
class Consent:
    recorded_by: str
    recorded_at: str  # ISO date-time
    purpose: str
    retention_days: int

    def __post_init__(self) -> None:
        if not self.recorded_by.strip():
            raise ValueError("consent: recorded_by must name who recorded it")
        if not 1 <= self.retention_days <= 365:
            raise ValueError(f"consent: retention_days must be 1..365, got {self.retention_days}")


@dataclass(frozen=True)
class CropRecord:
    crop_id: str
    site_id: str
    camera_id: str
    event_time_ms: int
    expires_ms: int
    sha256: str  # of the plaintext JPEG
    model_probabilities: tuple[float, ...] | None = None

    @property
    def day(self) -> str:
        import datetime as dt
        return dt.datetime.fromtimestamp(self.event_time_ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def load_or_create_key(path: Path) -> bytes:
    if path.exists():
        key = path.read_bytes().strip()
        try:
            Fernet(key)
        except ValueError as error:
            raise ValueError(f"{path}: not a Fernet key ({error})") from None
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


class CropStore:
    def __init__(self, root: Path, key: bytes, now_ms: int) -> None:
        self.root = Path(root)
        self._fernet = Fernet(key)
        self.purged = self.purge(now_ms)

    # ------------------------------------------------------------ consent

    @property
    def consent(self) -> Consent | None:
        path = self.root / "consent.json"
        if not path.exists():
            return None
        try:
            return Consent(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"{path}: not a consent record ({error})") from None

    def record_consent(self, consent: Consent) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "consent.json").write_text(json.dumps(asdict(consent), indent=2) + "\n")

    # -------------------------------------------------------------- crops

    def add(self, crop_id: str, jpeg: bytes, site_id: str, camera_id: str, event_time_ms: int,
            model_probabilities: Sequence[float] | None = None) -> CropRecord:
        consent = self.consent
        if consent is None:
            raise ConsentMissingError(f"{self.root}: no consent recorded; labeling is off until the site "
                                      "file records it (see README, privacy)")
        if not _CROP_ID.fullmatch(crop_id):
            raise ValueError(f"crop id {crop_id!r}: only letters, digits, '_' and '-', at most 64")
        (self.root / "crops").mkdir(parents=True, exist_ok=True)
        record = CropRecord(crop_id, site_id, camera_id, event_time_ms,
                            event_time_ms + consent.retention_days * DAY_MS, hashlib.sha256(jpeg).hexdigest(),
                            None if model_probabilities is None else tuple(float(p) for p in model_probabilities))
        target = self._path(crop_id)
        write_atomically(target, self._fernet.encrypt(jpeg))
        with (self.root / "index.jsonl").open("a") as index:
            index.write(json.dumps(asdict(record)) + "\n")
        return record

    def records(self) -> Iterator[CropRecord]:
        path = self.root / "index.jsonl"
        if not path.exists():
            return
        with path.open() as index:
            for number, line in enumerate(index, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    probabilities = data.pop("model_probabilities", None)
                    yield CropRecord(**data, model_probabilities=None if probabilities is None
                                     else tuple(probabilities))
                except (json.JSONDecodeError, TypeError) as error:
                    raise ValueError(f"{path}:{number}: not a crop record ({error})") from None

    def read(self, record: CropRecord) -> bytes:
        path = self._path(record.crop_id)
        if not path.exists():
            raise FileNotFoundError(f"crop {record.crop_id}: {path} no longer exists (expired or deleted)")
        try:
            data = self._fernet.decrypt(path.read_bytes())
        except InvalidToken:
            raise ValueError(f"{path}: cannot decrypt with this key (wrong key or damaged file)") from None
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise ValueError(f"{path}: content does not match its sha256 in the index")
        return data

    def purge(self, now_ms: int) -> int:
        """Deletes expired crops and their index lines; returns how many went."""
        path = self.root / "index.jsonl"
        if not path.exists():
            return 0
        keep, gone = [], 0
        for record in list(self.records()):
            if record.expires_ms <= now_ms:
                self._path(record.crop_id).unlink(missing_ok=True)
                gone += 1
            else:
                keep.append(record)
        if gone:
            write_atomically(path, "".join(json.dumps(asdict(r)) + "\n" for r in keep).encode())
        return gone

    def _path(self, crop_id: str) -> Path:
        return self.root / "crops" / f"{crop_id}.enc"
