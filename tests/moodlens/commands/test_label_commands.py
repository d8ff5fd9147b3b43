import pytest

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


def test_purge_keeps_no_crop_past_the_site_files_retention_shortened_since_the_store_recorded_consent(
        tmp_path, capsys):
    """The store recorded consent for 365 days; the site file now says 7 (a complaint, a new policy): the
    daily purge `moodlens up` runs, and a purge by hand beside the site file, keep nothing older than 7."""
    import time

    from tests.training.labeling.helpers import jpeg

    store = crop_store(tmp_path, n=0)
    now = int(time.time() * 1000)
    for name, days in (("ten-days", 10), ("two-days", 2)):
        store.add(name, jpeg(days), "cafe", "door", now - days * 86_400_000)
    config = site_file(tmp_path)
    config.write_text(config.read_text() + "retention_days = 7\n")
    key = ["--key", str(tmp_path / "keys" / "label.key")]
    assert main(["label", "purge", str(tmp_path / "crops"), *key, "--config", str(tmp_path / "none.toml")]) == 0
    assert "deleted 0 expired crops" in capsys.readouterr().out  # no site file, no --retain-days: the store's 365
    assert main(["label", "purge", "--config", str(config)]) == 0
    assert "deleted 1 expired crops (kept at most 7 days)" in capsys.readouterr().out
    assert sorted(p.stem for p in (tmp_path / "crops" / "crops").glob("*.enc")) == ["two-days"]
    assert main(["label", "purge", str(tmp_path / "crops"), *key, "--retain-days", "1"]) == 0
    assert sorted(p.stem for p in (tmp_path / "crops" / "crops").glob("*.enc")) == []
    with pytest.raises(SystemExit):
        main(["label", "purge", str(tmp_path / "crops"), *key, "--retain-days", "0"])
    assert "argument --retain-days: a whole number of days, 1 to 365, got 0" in capsys.readouterr().err
