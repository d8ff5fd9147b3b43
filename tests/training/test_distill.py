"""Distillation: teachers' targets are what their exported graphs compute, an interrupted run resumes
to the same weights as one that never stopped, and the student it exports is a model the edge loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.expression.classifier import ExpressionClassifier
from schemas.expressions import EXPRESSIONS
from tests.training.test_train import write_archive
from training import distill as distill_module
from training.augment import mix_batch
from training.export import export_checkpoint
from training.network import VIEWS, ExpressionNet
from training.teacher_cache import build_cache, cache_key
from training.teachers import ensemble_probabilities, load_teacher, soften


def save_teacher(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    net = ExpressionNet(width=8)
    for module in net.modules():  # non-trivial batch-norm statistics, as a trained net has
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)  # type: ignore[union-attr]  # set: track_running_stats
            module.running_var.uniform_(0.5, 2.0)  # type: ignore[union-attr]
    last = net.head[1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():  # confident, as a trained teacher is: untrained logits are all near zero
        last.weight.mul_(50.0)
    torch.save({"net": net.state_dict(), "result": {"accuracy": 0.5}}, path)
    return path


def faces(n: int, seed: int = 0) -> torch.Tensor:
    """Noise over a left-to-right ramp that differs per face: neither symmetric nor alike."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 48)[None, None, None, :] * rng.uniform(-150, 150, (n, 1, 1, 1))
    pixels = 128 + ramp + rng.normal(0, 30, (n, 1, 48, 48))
    return torch.from_numpy(pixels.clip(0, 255).astype(np.float32))


def test_checkpoint_teacher_targets_are_what_its_exported_graph_outputs(tmp_path: Path) -> None:
    checkpoint = save_teacher(tmp_path / "teacher.pt", seed=1)
    exported = tmp_path / "teacher.onnx"
    export_checkpoint(checkpoint, exported, "teacher", "0", views=VIEWS)
    pixels = faces(6)
    from_checkpoint = load_teacher(checkpoint, VIEWS).probabilities(pixels)
    from_graph = load_teacher(exported).probabilities(pixels)
    torch.testing.assert_close(from_checkpoint, from_graph, atol=1e-5, rtol=1e-4)
    # The views matter: a single-view teacher says something else about the same faces.
    single = load_teacher(checkpoint, ("face",)).probabilities(pixels)
    assert (single - from_checkpoint).abs().max() > 1e-4


def test_ensemble_averages_teachers_and_soften_keeps_the_ranking(tmp_path: Path) -> None:
    first = load_teacher(save_teacher(tmp_path / "a.pt", seed=1), ("face", "mirror"))
    second = load_teacher(save_teacher(tmp_path / "b.pt", seed=2), ("face", "mirror"))
    pixels = faces(4, seed=3)
    averaged = ensemble_probabilities([first, second], pixels)
    torch.testing.assert_close(averaged, (first.probabilities(pixels) + second.probabilities(pixels)) / 2)
    softened = soften(averaged, 4.0)
    torch.testing.assert_close(softened.sum(dim=1), torch.ones(4))
    assert torch.equal(softened.argsort(dim=1), averaged.argsort(dim=1))
    assert (softened.max(dim=1).values <= averaged.max(dim=1).values + 1e-6).all()
    torch.testing.assert_close(soften(averaged, 1.0), averaged)


def test_loss_is_cross_entropy_without_teacher_and_kl_vanishes_on_agreement() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 7)
    targets = torch.softmax(torch.randn(5, 7), dim=1)
    weights = torch.ones(5)
    teacher = torch.softmax(torch.randn(5, 7), dim=1)
    hard_only = distill_module.distillation_loss(logits, targets, teacher, weights, alpha=0.0, temperature=4.0)
    expected = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(hard_only, expected)
    agreeing = distill_module.distillation_loss(torch.log(teacher), targets, teacher, weights, alpha=1.0,
                                                temperature=3.0)
    assert abs(agreeing.item()) < 1e-5
    disagreeing = distill_module.distillation_loss(logits, targets, teacher, weights, alpha=1.0, temperature=3.0)
    assert disagreeing.item() > 1e-3


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mixup=st.sampled_from([0.0, 0.2, 1.0]),
       cutmix=st.sampled_from([0.0, 1.0]))
def test_mixed_batches_keep_pixel_range_and_targets_summing_to_one(seed: int, mixup: float, cutmix: float) -> None:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.rand(6, 1, 48, 48, generator=generator) * 255
    targets = torch.softmax(torch.randn(6, 7, generator=generator), dim=1)
    mixed, mixed_targets = mix_batch(pixels, targets, np.random.default_rng(seed), mixup, cutmix)
    torch.testing.assert_close(mixed_targets.sum(dim=1), torch.ones(6))
    assert mixed.shape == pixels.shape and mixed.min() >= 0 and mixed.max() <= 255
    if mixup == 0 and cutmix == 0:
        assert torch.equal(mixed, pixels) and torch.equal(mixed_targets, targets)


def run(archive: Path, model_dir: Path, teachers: list[Path], *extra: str) -> dict[str, object] | None:
    argv = ["--data", str(archive), "--model-dir", str(model_dir), "--teachers", *map(str, teachers),
            "--batch-size", "16", "--epochs", "2", "--threads", "1", "--width", "8",
            "--mixup", "0.4", "--cutmix", "1.0", "--mix-prob", "0.7", "--checkpoint-every", "0", *extra]
    return distill_module.distill(distill_module.parse_args(argv))


@pytest.mark.parametrize("cache_copies", [0, 2])
def test_interrupted_run_resumes_to_the_same_weights_and_exports_a_runtime_model(tmp_path: Path,
                                                                                cache_copies: int) -> None:
    archive = write_archive(tmp_path / "fer.npz", n_train=64, n_test=32)  # 4 steps per epoch
    checkpoint_teacher = save_teacher(tmp_path / "teacher.pt", seed=1)
    onnx_teacher = tmp_path / "teacher2.onnx"
    export_checkpoint(save_teacher(tmp_path / "teacher2.pt", seed=2), onnx_teacher, "t2", "0", views=("face", "mirror"))
    teachers = [checkpoint_teacher, onnx_teacher]

    cache = ("--teacher-cache-copies", str(cache_copies))
    whole = run(archive, tmp_path / "whole", teachers, *cache)
    # Stopped inside epoch 1, then across the epoch boundary, then to the end.
    assert run(archive, tmp_path / "pieces", teachers, *cache, "--stop-after-steps", "3") is None
    interrupted = torch.load(tmp_path / "pieces" / "checkpoints" / "last.pt", weights_only=False)
    assert interrupted["step"] == 3 and interrupted["epoch"] == 0 and interrupted["position"] == 48
    cached = sorted((tmp_path / "pieces" / "checkpoints").glob("teacher-cache/*.pt"))
    assert len(cached) == cache_copies
    written = [path.stat().st_mtime_ns for path in cached]
    assert run(archive, tmp_path / "pieces", teachers, *cache, "--stop-after-steps", "3") is None
    pieces = run(archive, tmp_path / "pieces", teachers, *cache)
    assert [path.stat().st_mtime_ns for path in cached] == written  # resumed runs reuse the cache
    assert whole is not None and pieces is not None

    final = {name: torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=False)
             for name in ("whole", "pieces")}
    assert final["whole"]["step"] == final["pieces"]["step"] == 8
    for key, value in final["whole"]["net"].items():
        torch.testing.assert_close(final["pieces"]["net"][key], value, atol=1e-6, rtol=1e-5, msg=key)
    assert whole["accuracy"] == pieces["accuracy"] and whole["arch"] == "compact"

    classifier = ExpressionClassifier(tmp_path / "pieces" / "expression.onnx")
    assert classifier.info.input_size == 48 and classifier.info.classes == EXPRESSIONS
    crops = [np.random.default_rng(4).integers(0, 255, (90, 70, 3), dtype=np.uint8)]
    probabilities = classifier.classify(crops)
    assert probabilities.shape == (1, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_refuses_to_run_without_teachers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        distill_module.parse_args(["--data", str(tmp_path / "fer.npz")])
    assert "--teachers is required" in capsys.readouterr().err
    args = distill_module.parse_args(["--data", "x.npz", "--teachers", "t.pt", "--width", "48"])
    assert (args.arch, args.width, args.model_dir) == ("compact", 48, "build/distill")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        load_teacher(tmp_path / "missing.pt")


def test_cached_targets_are_the_teachers_on_the_cached_faces(tmp_path: Path) -> None:
    teacher_file = save_teacher(tmp_path / "teacher.pt", seed=1)
    teachers = [load_teacher(teacher_file, VIEWS)]
    x_all = faces(20, seed=5)
    key = cache_key([str(teacher_file)], VIEWS, 0, x_all)
    cache = build_cache(tmp_path / "cache", key, 2, x_all, teachers, seed=0, batch_size=8, device=torch.device("cpu"))
    assert cache.images.shape == (2, 20, 1, 48, 48) and cache.images.dtype == torch.uint8
    assert not torch.equal(cache.images[0], cache.images[1])  # two different augmentations
    for k in range(2):
        torch.testing.assert_close(cache.probabilities[k], teachers[0].probabilities(cache.images[k].float()))
    pixels, said = cache.draw(torch.tensor([3, 7]), torch.Generator().manual_seed(0))
    for row, face in enumerate((3, 7)):
        k = next(k for k in range(2) if torch.equal(cache.images[k, face].float(), pixels[row]))
        torch.testing.assert_close(said[row], cache.probabilities[k, face])
    other = save_teacher(tmp_path / "other.pt", seed=2)
    assert cache_key([str(other)], VIEWS, 0, x_all) != key  # a changed teacher never reads stale targets
    assert cache_key([str(teacher_file)], ("face",), 0, x_all) != key


def test_sagemaker_locations_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training")
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    args = distill_module.parse_args(["--teachers", "/opt/ml/input/data/teachers/best.pt", "--epochs", "3",
                                      "--sagemaker-extra", "1"])
    assert args.data == "/opt/ml/input/data/training" and args.model_dir == "/opt/ml/model"
    assert args.checkpoint_dir == "/opt/ml/checkpoints" and args.epochs == 3
