from moodlens.cli import main
from tests.moodlens.commands.label_site import crop_store, site_file


def test_dry_run_prints_calls_and_cost_and_sends_nothing(tmp_path, capsys):
    crop_store(tmp_path)
    (tmp_path / "m.jsonl").write_text('{"crop-id": "c0"}\n')
    code = main(["label", "rekognition", "--config", str(site_file(tmp_path)), "--out", str(tmp_path / "m.jsonl"),
                 "--dry-run", "--price", "0.001"])
    assert code == 0
    out = capsys.readouterr().out
    assert "3 crops, 1 already labeled, 2 to send: 2 DetectFaces calls, about $0.00" in out


def test_a_missing_store_or_key_is_named(tmp_path, capsys):
    config = str(site_file(tmp_path))
    assert main(["label", "rekognition", str(tmp_path / "nope"), "--config", config,
                 "--out", str(tmp_path / "m.jsonl")]) == 2
    assert "no crop store at" in capsys.readouterr().err
    crop_store(tmp_path)
    assert main(["label", "review", str(tmp_path / "crops"), "--config", config,
                 "--manifest", str(tmp_path / "m.jsonl"), "--key", str(tmp_path / "missing.key")]) == 2
    assert "missing.key" in capsys.readouterr().err


def test_a_missing_site_file_is_named(tmp_path, capsys):
    crop_store(tmp_path)
    assert main(["label", "rekognition", str(tmp_path / "crops"), "--config", str(tmp_path / "none.toml"),
                 "--out", str(tmp_path / "m.jsonl"), "--dry-run"]) == 2
    assert "no site file at" in capsys.readouterr().err


def test_purge_and_withdraw_given_the_store_and_key_need_no_site_file(tmp_path, capsys):
    crop_store(tmp_path)
    store = ["--config", str(tmp_path / "none.toml"), "--key", str(tmp_path / "keys" / "label.key")]
    assert main(["label", "purge", str(tmp_path / "crops"), *store]) == 0
    assert "deleted 0 expired crops" in capsys.readouterr().out
    assert main(["label", "withdraw", str(tmp_path / "crops"), *store]) == 0
    assert "deleted 3 crops" in capsys.readouterr().out and not (tmp_path / "crops").exists()
