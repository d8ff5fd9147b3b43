"""`moodlens label collect` on a real clip, through the edge's own frame loop."""

from pathlib import Path

from moodlens.cli import main

CLIP = Path(__file__).resolve().parents[3] / "data" / "video" / "WolfgangLanger_Pexels.mp4"


def site_file(tmp_path: Path, consent: bool, zones: str = "") -> Path:
    labeling = ('[labeling]\nconsent_recorded_by = "manager@cafe"\nconsent_recorded_at = "2026-11-30"\n'
                f'key_file = "{tmp_path / "keys" / "label.key"}"\n') if consent else ""
    path = tmp_path / "moodlens.toml"
    path.write_text(f'[site]\nid = "cafe"\nstate_dir = "state"\n[[cameras]]\nid = "door"\nsource = "{CLIP}"\n'
                    f"{zones}{labeling}")
    return path


def test_without_recorded_consent_nothing_is_collected(tmp_path, capsys):
    assert main(["label", "collect", "--config", str(site_file(tmp_path, consent=False)), "--per-camera", "5"]) == 2
    assert "labeling is off" in capsys.readouterr().err
    assert not (tmp_path / "state" / "label-crops").exists()


def test_crops_of_a_real_clip_land_encrypted_with_consent_and_expiry(tmp_path, capsys):
    assert main(["label", "collect", "--config", str(site_file(tmp_path, consent=True)), "--per-camera", "3",
                 "--max-frames", "200"]) == 0
    out = capsys.readouterr().out
    assert "door: kept 1 of 3 crops" in out  # one person in the clip: one visit, one crop
    store = tmp_path / "state" / "label-crops"
    assert (store / "consent.json").is_file() and len(list((store / "crops").glob("*.enc"))) == 1
    assert b"JFIF" not in next((store / "crops").glob("*.enc")).read_bytes()  # not a readable JPEG on disk


def test_staff_areas_are_masked_while_collecting(tmp_path, capsys):
    whole_frame = 'exclude_zones = [\n  [0, 0, 1, 1],\n]\n'
    assert main(["label", "collect", "--config", str(site_file(tmp_path, consent=True, zones=whole_frame)),
                 "--per-camera", "3", "--max-frames", "100"]) == 0
    assert "door: kept 0 of 3 crops" in capsys.readouterr().out
