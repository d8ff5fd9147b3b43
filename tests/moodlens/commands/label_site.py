"""A site file and a crop store as `moodlens label collect` leaves them, for the label command tests."""

from __future__ import annotations

from pathlib import Path

from tests.training.labeling.helpers import NOW_MS, jpeg
from training.labeling.crops import Consent, CropStore, load_or_create_key

CLIP = Path(__file__).resolve().parents[3] / "data" / "video" / "WolfgangLanger_Pexels.mp4"


def site_file(tmp_path: Path, consent: bool = True) -> Path:
    labeling = 'consent_recorded_by = "manager@cafe"\nconsent_recorded_at = "2026-11-30"\n' if consent else ""
    path = tmp_path / "moodlens.toml"
    path.write_text(f'[site]\nid = "cafe"\nstate_dir = "state"\n[[cameras]]\nid = "door"\nsource = "{CLIP}"\n'
                    f'[labeling]\n{labeling}crops_dir = "crops"\nkey_file = "{tmp_path / "keys" / "label.key"}"\n')
    return path


def crop_store(tmp_path: Path, n: int = 3) -> CropStore:
    """``n`` crops in ``tmp_path/crops`` under recorded consent, the key in ``tmp_path/keys``."""
    store = CropStore(tmp_path / "crops", load_or_create_key(tmp_path / "keys" / "label.key"), now_ms=NOW_MS)
    store.record_consent(Consent("manager@cafe", "2026-11-30", "fine-tune", 365))
    for i in range(n):
        store.add(f"c{i}", jpeg(i), "cafe", "door", NOW_MS + i)
    return store
