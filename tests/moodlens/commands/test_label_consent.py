"""Consent at every step that reads or sends a crop, through the real commands.

moto has no Rekognition DetectFaces, so `label rekognition` is pointed (``--endpoint-url``) at a
local HTTP stand-in that speaks DetectFaces' JSON protocol and records every image it receives:
what reaches it is what would have left the box.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from moodlens.cli import main
from tests.moodlens.commands.label_site import crop_store, site_file
from tests.training.labeling.helpers import jpeg

HAPPY_FACE = {"FaceDetails": [{
    "BoundingBox": {"Width": 0.8, "Height": 0.8, "Left": 0.1, "Top": 0.1}, "Confidence": 99.9,
    "Emotions": [{"Type": "HAPPY", "Confidence": 95.0}, {"Type": "CALM", "Confidence": 5.0}],
}]}


class DetectFacesStandIn:
    """Answers DetectFaces with one happy face; ``received`` holds every image sent to it."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.on_request: Callable[[], None] = lambda: None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.headers["X-Amz-Target"] == "RekognitionService.DetectFaces"
                stand_in.received.append(base64.b64decode(body["Image"]["Bytes"]))
                stand_in.on_request()
                answer = json.dumps(HAPPY_FACE).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def rekognition(monkeypatch: pytest.MonkeyPatch) -> Iterator[DetectFacesStandIn]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_REKOGNITION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stand_in = DetectFacesStandIn()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def label_rekognition(tmp_path: Path, config: Path, stand_in: DetectFacesStandIn) -> int:
    return main(["label", "rekognition", "--config", str(config), "--out", str(tmp_path / "manifest.jsonl"),
                 "--region", "us-east-1", "--endpoint-url", stand_in.url, "--rate", "1000"])


def test_with_consent_on_record_every_crop_reaches_the_endpoint_once(tmp_path, rekognition, capsys):
    crop_store(tmp_path)
    assert label_rekognition(tmp_path, site_file(tmp_path), rekognition) == 0
    assert sorted(rekognition.received) == sorted(jpeg(i) for i in range(3))
    assert "labeled 3" in capsys.readouterr().out


def test_with_no_consent_json_none_of_three_crops_reaches_the_endpoint(tmp_path, rekognition, capsys):
    crop_store(tmp_path)
    (tmp_path / "crops" / "consent.json").unlink()
    assert label_rekognition(tmp_path, site_file(tmp_path), rekognition) == 2
    assert "consent.json: no consent recorded" in capsys.readouterr().err
    assert rekognition.received == []
    assert not (tmp_path / "manifest.jsonl").exists() or not (tmp_path / "manifest.jsonl").read_text()


def test_without_the_site_files_opt_in_none_reaches_the_endpoint(tmp_path, rekognition, capsys):
    crop_store(tmp_path)
    assert label_rekognition(tmp_path, site_file(tmp_path, consent=False), rekognition) == 2
    assert "site file's [labeling] section records no consent" in capsys.readouterr().err
    assert rekognition.received == []


def test_consent_withdrawn_during_a_run_stops_it_at_the_next_crop(tmp_path, rekognition, capsys):
    crop_store(tmp_path)
    config = site_file(tmp_path)
    rekognition.on_request = lambda: main(["label", "withdraw", "--config", str(config)]) if len(
        rekognition.received) == 1 else None
    assert label_rekognition(tmp_path, config, rekognition) == 2
    assert len(rekognition.received) == 1
    assert "no consent recorded" in capsys.readouterr().err


def test_withdrawing_consent_deletes_the_crops_and_the_key(tmp_path, capsys):
    crop_store(tmp_path)
    config = site_file(tmp_path)
    assert main(["label", "withdraw", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "deleted 3 crops" in out and "and the key" in out and "still records consent" in out
    assert not (tmp_path / "crops").exists() and not (tmp_path / "keys" / "label.key").exists()
    assert main(["label", "review", "--config", str(config), "--manifest", str(tmp_path / "m.jsonl")]) == 2
    assert "no crop store" in capsys.readouterr().err


def test_a_withdrawal_cut_short_after_the_key_went_finishes_when_run_again(tmp_path, capsys):
    crop_store(tmp_path)
    (tmp_path / "crops" / "consent.json").unlink()
    (tmp_path / "keys" / "label.key").unlink()  # where a kill after the first two deletions leaves it
    assert main(["label", "withdraw", "--config", str(site_file(tmp_path, consent=False))]) == 0
    assert "deleted 3 crops" in capsys.readouterr().out and not (tmp_path / "crops").exists()


def review_list(tmp_path: Path) -> Path:
    lines = [{"crop-id": f"c{i}", "camera-id": "door", "day": "2026-11-30", "review-reasons": ["low confidence"],
              "expression-metadata": {"class-name": "happy"}, "expression-soft": {"happy": 0.5}} for i in range(2)]
    path = tmp_path / "manifest.review.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize(("flag", "drawn"), [([], False), (["--show-faces"], True)])
def test_review_draws_faces_in_the_terminal_only_when_asked(tmp_path, monkeypatch, capsys, flag, drawn):
    crop_store(tmp_path)
    review_list(tmp_path)
    monkeypatch.setattr("builtins.input", lambda prompt: "a")
    assert main(["label", "review", "--config", str(site_file(tmp_path)), "--manifest",
                 str(tmp_path / "manifest.jsonl"), *flag]) == 0
    out = capsys.readouterr().out
    assert ("\u2580" in out) is drawn and ("--show-faces draws it" in out) is not drawn
    assert "accepted 2" in out


def test_review_is_refused_without_consent(tmp_path, capsys):
    crop_store(tmp_path)
    review_list(tmp_path)
    (tmp_path / "crops" / "consent.json").unlink()
    assert main(["label", "review", "--config", str(site_file(tmp_path)), "--manifest",
                 str(tmp_path / "manifest.jsonl"), "--show-faces"]) == 2
    assert "no consent recorded" in capsys.readouterr().err
    assert not (tmp_path / "manifest.jsonl").exists()


def test_review_help_says_faces_are_drawn_only_with_the_flag(capsys):
    with pytest.raises(SystemExit):
        main(["label", "review", "--help"])
    assert "--show-faces" in capsys.readouterr().out


def test_a_key_others_can_read_is_refused_by_every_step(tmp_path, capsys):
    crop_store(tmp_path)
    os.chmod(tmp_path / "keys" / "label.key", 0o644)
    config = str(site_file(tmp_path))
    for argv in (["rekognition", "--out", str(tmp_path / "m.jsonl"), "--dry-run"],
                 ["review", "--manifest", str(tmp_path / "m.jsonl")], ["purge"]):
        assert main(["label", *argv, "--config", config]) == 2
        err = capsys.readouterr().err
        assert "label.key: the crop store's key is readable by group or others (mode 0644)" in err
        assert "chmod 600" in err


def test_the_store_is_private_to_its_owner(tmp_path):
    crop_store(tmp_path)
    root = tmp_path / "crops"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700 and stat.S_IMODE((root / "crops").stat().st_mode) == 0o700
    for path in (root / "index.jsonl", root / "consent.json", *sorted((root / "crops").iterdir())):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_consent_cleared_in_the_site_file_during_a_run_stops_it_at_the_next_crop(tmp_path, rekognition, capsys):
    crop_store(tmp_path)
    config = site_file(tmp_path)
    rekognition.on_request = lambda: site_file(tmp_path, consent=False)
    assert label_rekognition(tmp_path, config, rekognition) == 2
    assert len(rekognition.received) == 1
    assert "records no consent" in capsys.readouterr().err
