"""Publishing a student: views and precision chosen by measurement, both latencies and the anchor's on the card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.expression.classifier import ExpressionClassifier
from edge.model.signature import load_public_key
from tests.training.test_train import write_archive
from training.data import load_split
from training.drift_baseline import baseline_of
from training.evaluation import score
from training.network import CompactNet
from training.publish import choose_precision, choose_views, publish


def scores(correct: int, of: int = 10) -> object:
    truth = np.zeros(of, dtype=np.int64)
    predicted = np.where(np.arange(of) < correct, 0, 1)
    return score(truth, predicted, 7)


def test_views_most_accurate_within_budget_else_fastest() -> None:
    one, two, four = scores(6), scores(7), scores(8)
    candidates = [(("face",), one, 0.2), (("face", "mirror"), two, 0.4),
                  (("face", "mirror", "zoom", "zoom_mirror"), four, 0.8)]
    assert choose_views(candidates, None)[0] == candidates[2][0]  # type: ignore[arg-type]
    assert choose_views(candidates, 0.5)[0] == ("face", "mirror")  # type: ignore[arg-type]
    assert choose_views(candidates, 0.1)[0] == ("face",)  # type: ignore[arg-type]


def test_int8_only_where_faster_and_as_accurate() -> None:
    assert choose_precision((scores(8), 0.30), (scores(8), 0.20)) == "int8"  # type: ignore[arg-type]
    assert choose_precision((scores(8), 0.30), (scores(8), 0.29)) == "fp32"  # type: ignore[arg-type]
    assert choose_precision((scores(8), 0.30), (scores(7), 0.10)) == "fp32"  # type: ignore[arg-type]


def test_publishes_a_single_view_student_with_both_latencies_and_the_anchor(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "fer.npz")
    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pt"
    torch.save({"net": CompactNet(width=8).state_dict(), "result": {"accuracy": 0.3}, "arch": "compact",
                "select": "final"}, checkpoint)
    anchor = tmp_path / "latency.json"
    # A budget no candidate meets (the faster anchor file's): the fastest set, one view, must be chosen.
    anchor.write_text(json.dumps({"measured": "2026-01-01T00:00:00Z",
                                  "models": {"fer-tflite": {"ms_per_face": 0.5},
                                             "fer-fp32-tflite": {"ms_per_face": 0.0001}}}))
    out = tmp_path / "models"
    figures = publish(checkpoint, archive, out, "student", "0.1.0", work=tmp_path / "work",
                      anchor_file=anchor, latency_runs=30)
    considered = figures["views_considered"]
    assert isinstance(considered, list) and len(considered) == 3
    # The fastest set as measured (for a net this small one view and two are within the noise of each other).
    (chosen,) = [c for c in considered if c["views"] == figures["test_time_views"]]
    assert chosen["float32_ms"] == min(c["float32_ms"] for c in considered)
    assert figures["architecture"] == "CompactNet"
    latency = figures["latency_ms"]
    assert isinstance(latency, dict) and latency["float32"] > 0 and latency["int8"] > 0
    shipped_as = {"fp32": "float32", "int8": "int8"}[str(figures["precision"])]
    assert figures["latency_ms_batch1_one_core"] == latency[shipped_as]
    classifier = ExpressionClassifier(out / "expression.onnx")
    assert classifier.info.sha256 == figures["sha256"] and classifier.info.model_id == "student"
    card = (out / "MODEL_CARD.md").read_text()
    assert figures["latency_budget_ms"] == 0.0001  # the faster of the anchor's two files
    assert "0.000 ms per face" in card and "float TFLite" in card
    assert f"{latency['float32']:.3f}" in card and f"{latency['int8']:.3f}" in card
    assert "classified once" in card and (out / "expression_confusion.png").stat().st_size > 1000
    assert figures["epoch_selection"] == "final" and "did not choose it" in card
    assert json.loads((out / "expression.json").read_text())["sha256"] == figures["sha256"]
    # The drift baseline travels with the model: the shipped file's own outputs on the judged faces.
    drift = json.loads((out / "expression.json").read_text())["drift_baseline"]
    assert drift["faces"] == figures["faces"] and abs(sum(drift["top_class_share"].values()) - 1) < 1e-3
    assert 1 / 7 <= drift["mean_confidence"] <= 1
    # ...the same as classifying the shipped file again (publish reuses the scoring pass's outputs)
    images, _ = load_split(archive, "test_public")
    assert drift == json.loads(json.dumps(baseline_of(out / "expression.onnx", images, "test_public")))
    assert "Figures measured on: " in card


def test_a_published_model_is_signed_for_edges_that_hold_the_public_key(tmp_path: Path) -> None:
    from edge.model.store import LocalFileSource, ModelStore
    from training.signing import generate_key_pair

    generate_key_pair(tmp_path / "publisher.key", tmp_path / "publisher.pub")
    archive = write_archive(tmp_path / "fer.npz")
    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pt"
    torch.save({"net": CompactNet(width=8).state_dict(), "arch": "compact"}, checkpoint)
    out = tmp_path / "models"
    publish(checkpoint, archive, out, "student", "0.2.0", work=tmp_path / "work", views=("face",),
            precision="fp32", anchor_file=None, latency_runs=5, signing_key=tmp_path / "publisher.key")
    public_key = load_public_key(tmp_path / "publisher.pub")
    shipped = out / "expression.onnx"
    resolved = ModelStore(tmp_path / "cache", public_key=public_key).resolve(LocalFileSource(shipped))
    assert resolved.sha256 == ExpressionClassifier(shipped).info.sha256
    assert json.loads((out / "expression.onnx.sig").read_text())["version"] == "0.2.0"
    # published again without the key: the old signature, of another file, must not stay beside it
    publish(checkpoint, archive, out, "student", "0.2.1", work=tmp_path / "work", views=("face",),
            precision="fp32", anchor_file=None, latency_runs=5)
    assert not (out / "expression.onnx.sig").exists()


def test_a_signing_key_others_can_read_is_refused_before_any_work(tmp_path: Path) -> None:
    from training.signing import generate_key_pair

    generate_key_pair(tmp_path / "publisher.key", tmp_path / "publisher.pub")
    (tmp_path / "publisher.key").chmod(0o640)
    with pytest.raises(ValueError, match="readable by group or others"):
        publish(tmp_path / "no-checkpoint.pt", tmp_path / "no-data.npz", tmp_path / "models", "student", "0.2.0",
                work=tmp_path / "work", signing_key=tmp_path / "publisher.key")
    assert not (tmp_path / "work").exists()
