"""The opt-in crop store: face crops (never whole frames) encrypted at rest, with consent and expiry.

Layout of a store folder:

    consent.json          who recorded the site's consent setting, when, for what, retention days
    index.jsonl           one line per crop: id, site, camera, event time, expiry, the edge model's
                          probabilities at collection time (for the "disagreeing" review rule)
    crops/<id>.enc        the crop's JPEG bytes, Fernet-encrypted (AES-128-CBC + HMAC-SHA256)

The key never sits in the store: it is a file the operator keeps elsewhere (default
``~/.moodlens/label.key``, created 0600 on first use). A key file that group or others can read is
refused, not warned about: it decrypts every face in the store, a warning scrolls by unseen in a
scheduled job's log, and ssh refuses a readable private key for the same reason. The store's own
files (index, consent, crops) are 0600 in a 0700 folder.

Consent is checked where a crop is written *and* where one is read: without ``consent.json`` no
crop goes in and none comes out (so neither Rekognition, the review nor a fine-tune sees one).
`withdraw` deletes the consent record, the key, the crops and the index, in that order: once the
key is gone, whatever a crash left behind can no longer be decrypted. Every open of the store
deletes what has expired (by the shorter of the crop's own date and the retention on record now),
so a crop outlives its retention date only while nothing touches the store; `purge` is also a command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from locallog.files import write_atomically

_CROP_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
DAY_MS = 86_400_000


class ConsentMissingError(PermissionError, ValueError):
    """No consent on record (the store's or the site file's): no crop is written, read or sent."""


class KeyPermissionError(PermissionError, ValueError):
    """The crop store's key file is readable by group or others; it is not used."""


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

    @classmethod
    def from_site(cls, labeling: Mapping[str, object]) -> Consent | None:
        """The site file's ``[labeling]`` opt-in as a consent record; None while it records none."""
        by, at = str(labeling.get("consent_recorded_by") or ""), str(labeling.get("consent_recorded_at") or "")
        if not by.strip() or not at.strip():
            return None
        retention = labeling.get("retention_days", 30)
        if not isinstance(retention, int) or isinstance(retention, bool):
            raise ValueError(f"[labeling] retention_days must be a whole number of days, got {retention!r}")
        return cls(by, at, str(labeling.get("purpose") or ""), retention)


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
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyPermissionError(f"{path}: the crop store's key is readable by group or others (mode "
                                     f"{mode:04o}); it decrypts every crop, so it is not used: chmod 600 {path}")
        key = path.read_bytes().strip()
        try:
            Fernet(key)
        except ValueError as error:
            raise ValueError(f"{path}: not a Fernet key ({error})") from None
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


class CropStore:
    def __init__(self, root: Path, key: bytes, now_ms: int) -> None:
        self.root = Path(root)
        self._fernet = Fernet(key)
        _make_private(self.root)
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
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.root / "consent.json", (json.dumps(asdict(consent), indent=2) + "\n").encode())

    def require_consent(self, site: Consent | None = None, check_site: bool = False) -> Consent:
        """The store's consent record; with ``check_site``, the site file's opt-in must be there too."""
        if check_site and site is None:
            raise ConsentMissingError(
                f"{self.root}: the site file's [labeling] section records no consent (consent_recorded_by, "
                "consent_recorded_at): no crop is read or sent. If consent was withdrawn, `moodlens label "
                "withdraw` deletes the crops and the key")
        consent = self.consent
        if consent is None:
            raise ConsentMissingError(f"{self.root / 'consent.json'}: no consent recorded; labeling is off "
                                      "until the site file records it (see README, privacy): no crop is "
                                      "written, read or sent")
        return consent

    # -------------------------------------------------------------- crops

    def add(self, crop_id: str, jpeg: bytes, site_id: str, camera_id: str, event_time_ms: int,
            model_probabilities: Sequence[float] | None = None) -> CropRecord:
        consent = self.require_consent()
        if not _CROP_ID.fullmatch(crop_id):
            raise ValueError(f"crop id {crop_id!r}: only letters, digits, '_' and '-', at most 64")
        (self.root / "crops").mkdir(parents=True, exist_ok=True, mode=0o700)
        record = CropRecord(crop_id, site_id, camera_id, event_time_ms,
                            event_time_ms + consent.retention_days * DAY_MS, hashlib.sha256(jpeg).hexdigest(),
                            None if model_probabilities is None else tuple(float(p) for p in model_probabilities))
        target = self._path(crop_id)
        write_atomically(target, self._fernet.encrypt(jpeg))
        descriptor = os.open(self.root / "index.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a") as index:
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

    def reader(self, site_consent: Callable[[], Consent | None]) -> Callable[[CropRecord], bytes]:
        """`read` behind both consents, the site file's (``site_consent``, asked afresh) and the store's,
        checked again for every crop: a withdrawal during a long run stops it at the next crop."""
        def read(record: CropRecord) -> bytes:
            self.require_consent(site_consent(), check_site=True)
            return self.read(record)
        return read

    def read(self, record: CropRecord) -> bytes:
        """The crop's JPEG bytes; refused (ConsentMissingError) once the consent record is gone."""
        self.require_consent()
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

    def purge(self, now_ms: int, retain_days: int | None = None) -> int:
        """Deletes expired crops and their index lines; returns how many went. A crop expires at the
        date it was given, or earlier where the consent on record now, or ``retain_days`` (the site file's
        retention, which may have been shortened since the store recorded its consent), keeps fewer days."""
        path = self.root / "index.jsonl"
        if not path.exists():
            return 0
        consent = self.consent
        kept_days = [days for days in (consent.retention_days if consent else None, retain_days) if days is not None]
        keep_ms = min(kept_days) * DAY_MS if kept_days else None
        keep, gone = [], 0
        for record in list(self.records()):
            if record.expires_ms <= now_ms or (keep_ms is not None and record.event_time_ms + keep_ms <= now_ms):
                self._path(record.crop_id).unlink(missing_ok=True)
                gone += 1
            else:
                keep.append(record)
        if gone:
            write_atomically(path, "".join(json.dumps(asdict(r)) + "\n" for r in keep).encode())
        return gone

    def _path(self, crop_id: str) -> Path:
        return self.root / "crops" / f"{crop_id}.enc"


@dataclass(frozen=True)
class Withdrawn:
    crops: int
    key_deleted: bool


def withdraw(root: Path, key_path: Path) -> Withdrawn:
    """Deletes the consent record, the key, every crop and the index; safe to run again after a crash.

    Needs no key (a run stopped after deleting it must be able to finish). The consent record goes
    first, so a step running meanwhile stops at its next crop; the key second, so nothing left by a
    crash can be decrypted.
    """
    root = Path(root)
    (root / "consent.json").unlink(missing_ok=True)
    key_deleted = key_path.exists()
    key_path.unlink(missing_ok=True)
    crops = 0
    folder = root / "crops"
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()
                crops += 1 if path.suffix == ".enc" else 0
        folder.rmdir()
    (root / "index.jsonl").unlink(missing_ok=True)
    for leftover in root.glob(".index.jsonl.*.tmp"):  # a purge's temp file, cut short
        leftover.unlink()
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    return Withdrawn(crops, key_deleted)


def _make_private(root: Path) -> None:
    """0700 for the store's folders, 0600 for its files, also where they were looser (copied, made by hand)."""
    if not root.is_dir():
        return
    for folder in (root, root / "crops"):
        if folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) & 0o077:
            folder.chmod(0o700)
    for path in (root / "consent.json", root / "index.jsonl"):
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
