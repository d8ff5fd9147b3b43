from moodlens.cli import main
from tests.training.labeling.helpers import NOW_MS, jpeg
from training.labeling.crops import Consent, CropStore, load_or_create_key


def make_store(tmp_path, n=3):
    key = tmp_path / "label.key"
    store = CropStore(tmp_path / "crops", load_or_create_key(key), now_ms=NOW_MS)
    store.record_consent(Consent("manager", "2026-11-30T10:00:00Z", "fine-tune", 365))
    for i in range(n):
        store.add(f"c{i}", jpeg(i), "cafe", "door", NOW_MS + i)
    return key


def test_dry_run_prints_calls_and_cost_and_sends_nothing(tmp_path, capsys):
    key = make_store(tmp_path)
    (tmp_path / "m.jsonl").write_text('{"crop-id": "c0"}\n')
    code = main(["label", "rekognition", str(tmp_path / "crops"), "--out", str(tmp_path / "m.jsonl"),
                 "--key", str(key), "--dry-run", "--price", "0.001"])
    assert code == 0
    out = capsys.readouterr().out
    assert "3 crops, 1 already labeled, 2 to send: 2 DetectFaces calls, about $0.00" in out


def test_a_missing_store_or_key_is_named(tmp_path, capsys):
    assert main(["label", "rekognition", str(tmp_path / "nope"), "--out", str(tmp_path / "m.jsonl"),
                 "--key", str(tmp_path / "k")]) == 2
    assert "no crop store at" in capsys.readouterr().err
    make_store(tmp_path)
    assert main(["label", "review", str(tmp_path / "crops"), "--manifest", str(tmp_path / "m.jsonl"),
                 "--key", str(tmp_path / "missing.key")]) == 2
    assert "missing.key" in capsys.readouterr().err
