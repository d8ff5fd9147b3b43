import os
import stat

import pytest

from tests.training.labeling.helpers import NOW_MS, jpeg
from training.labeling.crops import (
    DAY_MS,
    Consent,
    ConsentMissingError,
    CropStore,
    KeyPermissionError,
    Withdrawn,
    load_or_create_key,
    withdraw,
)


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


def test_a_shorter_retention_recorded_later_deletes_the_older_crops_too(tmp_path, store):
    """A site that cuts retention from 30 to 7 days (a complaint, a new policy) keeps no crop past 7
    days, also those taken while 30 applied."""
    store.add("ten-days", jpeg(6), "cafe", "door", NOW_MS - 10 * DAY_MS)
    store.add("two-days", jpeg(7), "cafe", "door", NOW_MS - 2 * DAY_MS)
    store.record_consent(Consent("manager@cafe", "2026-12-01T10:00:00Z", "fine-tune the expression model", 7))
    reopened = CropStore(store.root, load_or_create_key(tmp_path / "keys" / "label.key"), now_ms=NOW_MS)
    assert reopened.purged == 1
    assert [r.crop_id for r in reopened.records()] == ["two-days"]
    assert not (store.root / "crops" / "ten-days.enc").exists()


def test_hostile_crop_ids_never_become_paths(store):
    with pytest.raises(ValueError, match="crop id"):
        store.add("../../escape", jpeg(6), "cafe", "door", NOW_MS)


def test_consent_needs_a_name_and_a_bounded_retention():
    with pytest.raises(ValueError, match="recorded_by"):
        Consent(" ", "2026-11-30", "x", 30)
    with pytest.raises(ValueError, match="retention_days"):
        Consent("me", "2026-11-30", "x", 0)


def test_no_crop_is_read_once_the_consent_record_is_gone(store):
    record = store.add("c1", jpeg(7), "cafe", "door", NOW_MS)
    (store.root / "consent.json").unlink()
    with pytest.raises(ConsentMissingError, match=r"consent.json: no consent recorded"):
        store.read(record)


def test_the_fine_tune_reads_no_crop_without_consent(store, tmp_path):
    from training.site_data import load_site_data

    store.add("c1", jpeg(8), "cafe", "door", NOW_MS)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"crop-id": "c1", "expression": 3}\n')
    assert len(load_site_data(manifest, store).images) == 1
    (store.root / "consent.json").unlink()
    with pytest.raises(ConsentMissingError):
        load_site_data(manifest, store)


def test_a_store_with_loose_modes_is_made_private_when_opened(tmp_path, store):
    store.add("c1", jpeg(9), "cafe", "door", NOW_MS)
    for path in (store.root / "index.jsonl", store.root / "consent.json"):
        path.chmod(0o644)
    store.root.chmod(0o755)
    CropStore(store.root, load_or_create_key(tmp_path / "keys" / "label.key"), now_ms=NOW_MS)
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((store.root / "index.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((store.root / "consent.json").stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused(tmp_path):
    load_or_create_key(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o640)
    with pytest.raises(KeyPermissionError, match=r"readable by group or others \(mode 0640\).*chmod 600"):
        load_or_create_key(tmp_path / "k")


def test_withdrawal_deletes_consent_key_crops_and_index(tmp_path, store):
    for i in range(3):
        store.add(f"c{i}", jpeg(i), "cafe", "door", NOW_MS)
    key = tmp_path / "keys" / "label.key"
    assert withdraw(store.root, key) == Withdrawn(crops=3, key_deleted=True)
    assert not store.root.exists() and not key.exists()
    assert withdraw(store.root, key) == Withdrawn(crops=0, key_deleted=False)  # again: nothing left, no error


@pytest.mark.parametrize(("labeling", "expected"), [
    ({"consent_recorded_by": "", "consent_recorded_at": "2026-11-30"}, None),
    ({"consent_recorded_by": "manager", "consent_recorded_at": " "}, None),
    ({"consent_recorded_by": "manager", "consent_recorded_at": "2026-11-30", "purpose": "p", "retention_days": 7},
     Consent("manager", "2026-11-30", "p", 7)),
])
def test_the_site_files_opt_in_is_both_who_and_when(labeling, expected):
    assert Consent.from_site(labeling) == expected
