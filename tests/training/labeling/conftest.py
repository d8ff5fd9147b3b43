import pytest

from tests.training.labeling.helpers import NOW_MS
from training.labeling.crops import Consent, CropStore, load_or_create_key


@pytest.fixture
def store(tmp_path):
    key = load_or_create_key(tmp_path / "keys" / "label.key")
    crops = CropStore(tmp_path / "crops", key, now_ms=NOW_MS)
    crops.record_consent(Consent("manager@cafe", "2026-11-30T10:00:00Z", "fine-tune the expression model", 30))
    return crops
