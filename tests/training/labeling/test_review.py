import io
import json

import numpy as np

from schemas.expressions import EXPRESSIONS
from training.labeling.review import parse_answer, pending, render_gray, review


def item(crop_id, suggested="happy"):
    return {"crop-id": crop_id, "camera-id": "door", "day": "2026-11-30", "review-reasons": ["low confidence"],
            "expression-metadata": {"class-name": suggested},
            "expression-soft": {name: float(name == suggested) for name in EXPRESSIONS}}


def test_answers_mean_accept_fix_skip_or_quit():
    assert parse_answer("a", "happy") == "happy"
    assert parse_answer("4", "happy") == "sad"
    assert parse_answer(" Fear ", "happy") == "fear"
    assert parse_answer("s", "happy") == "skip" and parse_answer("q", None) == "quit"
    assert parse_answer("7", "happy") is None and parse_answer("maybe", "happy") is None


def test_decisions_go_to_the_manifest_as_human_labels_and_a_review_resumes(tmp_path):
    review_list, manifest = tmp_path / "r.jsonl", tmp_path / "m.jsonl"
    review_list.write_text("".join(json.dumps(item(c)) + "\n" for c in ("a", "b", "c", "d")))
    answers = iter(["a", "huh", "sad", "s", "q"])
    out = io.StringIO()
    counts = review(pending(review_list, manifest), manifest, lambda _: np.full((48, 48), 128, np.uint8),
                    lambda prompt: next(answers), out)
    assert counts == {"accepted": 1, "fixed": 1, "skipped": 1}
    assert "not understood" in out.getvalue() and "\u2580" in out.getvalue()
    labels = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [(x["crop-id"], x["expression-metadata"]["class-name"]) for x in labels] == [("a", "happy"), ("b", "sad")]
    assert all(x["expression-metadata"]["human-annotated"] == "yes" and "review-reasons" not in x for x in labels)
    assert labels[1]["expression-soft"]["sad"] == 1.0
    assert [x["crop-id"] for x in pending(review_list, manifest)] == ["c", "d"]


def test_the_crop_is_drawn_two_pixels_per_character():
    image = np.zeros((48, 48), np.uint8)
    image[24:] = 255
    drawing = render_gray(image, width=16)
    rows = drawing.splitlines()
    assert len(rows) == 8 and rows[0].count("\u2580") == 16
    assert "38;2;0;0;0m" in rows[0] and "38;2;255;255;255m" in rows[-1]


def test_without_a_reader_no_face_is_drawn(tmp_path):
    review_list, manifest = tmp_path / "r.jsonl", tmp_path / "m.jsonl"
    review_list.write_text(json.dumps(item("a")) + "\n")
    out = io.StringIO()
    assert review(pending(review_list, manifest), manifest, None, lambda prompt: "a", out)["accepted"] == 1
    assert "\u2580" not in out.getvalue() and "\x1b[" not in out.getvalue()
    assert "--show-faces" in out.getvalue()
