import os
import stat

import pytest

from tests.training.labeling.helpers import NOW_MS, jpeg
from training.labeling.crops import DAY_MS, Consent, ConsentMissingError, CropStore, load_or_create_key


def test_without_consent_nothing_is_collected(tmp_path):
    store = CropStore(tmp_path / "crops", load_or_create_key(tmp_path / "k"), now_ms=NOW_MS)
    with pytest.raises(ConsentMissingError, match="no consent"):
        store.add("c1", jpeg(1), "cafe", "door", NOW_MS)
    assert not (tmp_path / "crops" / "crops").exists()


def test_crops_are_encrypted_at_rest_and_read_back_exactly(store):
    data = jpeg(2)
    record = store.add("c1", data, "cafe", "door", NOW_MS)
    on_disk = (store.root / "crops" / "c1.enc").read_bytes()
    assert data not in on_disk and data[:64] not in on_disk
    assert store.read(record) == data


def test_key_file_is_private_and_a_wrong_key_cannot_read(tmp_path, store):
    record = store.add("c1", jpeg(3), "cafe", "door", NOW_MS)
    mode = stat.S_IMODE(os.stat(tmp_path / "keys" / "label.key").st_mode)
    assert mode == 0o600
    other = CropStore(store.root, load_or_create_key(tmp_path / "other.key"), now_ms=NOW_MS)
    with pytest.raises(ValueError, match="cannot decrypt"):
        other.read(record)


def test_crops_past_their_retention_are_deleted_on_open(tmp_path, store):
    store.add("old", jpeg(4), "cafe", "door", NOW_MS - 31 * DAY_MS)
    store.add("new", jpeg(5), "cafe", "door", NOW_MS)
    reopened = CropStore(store.root, load_or_create_key(tmp_path / "keys" / "label.key"), now_ms=NOW_MS)
    assert reopened.purged == 1
    assert [r.crop_id for r in reopened.records()] == ["new"]
    assert not (store.root / "crops" / "old.enc").exists()


def test_hostile_crop_ids_never_become_paths(store):
    with pytest.raises(ValueError, match="crop id"):
        store.add("../../escape", jpeg(6), "cafe", "door", NOW_MS)


def test_consent_needs_a_name_and_a_bounded_retention():
    with pytest.raises(ValueError, match="recorded_by"):
        Consent(" ", "2026-11-30", "x", 30)
    with pytest.raises(ValueError, match="retention_days"):
        Consent("me", "2026-11-30", "x", 0)
