"""`moodlens schema validate FILE.jsonl`: a verdict per bad line, non-zero exit if any is bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moodlens.cli import main
from tests.schemas.events import camera_heartbeat, face_expression


def test_reports_each_bad_line_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_probability = face_expression()
    bad_probability["probabilities"]["happy"] = float("nan")
    lines = [
        json.dumps(face_expression()),
        json.dumps(face_expression(site_id="")),
        "{not json",
        "",
        json.dumps(camera_heartbeat()),
        json.dumps(bad_probability),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["schema", "validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"{path}:2: site_id:" in out
    assert f"{path}:3: $: malformed JSON" in out
    assert f"{path}:6: $: malformed JSON" in out  # NaN is not JSON
    assert ":1:" not in out and ":5:" not in out
    assert "2 valid, 3 invalid of 5 events" in err


def test_all_valid_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(face_expression()) + "\n" for _ in range(3)))
    assert main(["schema", "validate", str(path)]) == 0
    assert "3 valid, 0 invalid" in capsys.readouterr().err


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "validate", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_poison_lines_get_a_verdict_and_the_rest_is_still_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = json.dumps(face_expression()).replace('"sharpness": 140.5', '"sharpness": 1' + "0" * 400)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([huge.encode(), b"\xef\xbb\xbf" + json.dumps(camera_heartbeat()).encode(),
                                 json.dumps(face_expression()).encode()]) + b"\n")
    assert main(["schema", "validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"{path}:1: quality.sharpness: integer out of range" in out
    assert f"{path}:2: $: malformed JSON: starts with a byte-order mark" in out
    assert "1 valid, 2 invalid of 3 events" in err
