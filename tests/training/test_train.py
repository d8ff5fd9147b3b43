"""Training runs a few steps on a small synthetic archive, resumes, and exports a faithful ONNX file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from training import train as train_module
from training.export import INPUT_NAME, export_onnx, net_from_checkpoint
from training.network import ARCHITECTURES, VIEWS, ExpressionNet, Probabilities, build_net


def write_archive(path: Path, n_train: int = 96, n_test: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    labels = np.arange(n_train) % 7
    # Class-dependent brightness so a few steps have something to learn.
    images = (rng.integers(0, 60, (n_train, 48, 48)) + labels[:, None, None] * 25).astype(np.uint8)
    votes = np.full((n_train, 10), -1, dtype=np.int8)
    votes[::2] = 0
    votes[::2, 1] = 10  # half the rows: every FER+ annotator says happiness
    np.savez(path, x_train=images, y_train=labels, ferplus_votes_train=votes,
             x_test_public=images[:n_test], y_test_public=labels[:n_test])
    return path


def run_training(argv: list[str]) -> dict[str, float]:
    return train_module.train(train_module.parse_args(argv))


def test_trains_few_steps_exports_and_resumes(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "fer.npz")
    model_dir = tmp_path / "model"
    common = ["--data", str(archive), "--model-dir", str(model_dir), "--batch-size", "32", "--threads", "1"]

    first = run_training([*common, "--epochs", "1"])
    checkpoint = torch.load(model_dir / "checkpoints" / "last.pt", weights_only=False)
    assert checkpoint["step"] == 3 and checkpoint["epoch"] == 1

    second = run_training([*common, "--epochs", "2"])  # resumes: only the second epoch runs
    checkpoint = torch.load(model_dir / "checkpoints" / "last.pt", weights_only=False)
    assert checkpoint["step"] == 6 and checkpoint["epoch"] == 2
    assert second["epochs"] == 2 and 0.0 <= second["accuracy"] <= 1.0
    assert first["train_rows"] == second["train_rows"] == 96

    onnx_path = model_dir / "expression.onnx"
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["sha256"] == hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    # --select final (the default): the exported weights are the last epoch's, whatever the test said.
    chosen = torch.load(model_dir / "checkpoints" / train_module.CHOSEN_NAME, weights_only=False)
    assert metrics["epoch"] == 2 and metrics["select"] == "final" and chosen["select"] == "final"
    for name, weights in checkpoint["net"].items():
        torch.testing.assert_close(chosen["net"][name], weights)


def test_final_keeps_every_epoch_and_best_public_test_only_improvements(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    picks = {}
    for select in train_module.SELECTIONS:
        chosen: dict = {}
        for epoch, accuracy in enumerate([0.5, 0.7, 0.6], start=1):
            chosen = train_module.keep_if_chosen(select, {"epoch": epoch, "accuracy": accuracy}, chosen,
                                                 {"net": {"w": torch.tensor([float(epoch)])}}, path)
        saved = torch.load(path, weights_only=False)
        assert saved["result"] == chosen and saved["net"]["w"].item() == chosen["epoch"]
        assert saved["select"] == select
        picks[select] = chosen["epoch"]
    assert picks == {"final": 3, "best-public-test": 2}


def test_a_finished_run_from_before_select_still_exports(tmp_path: Path) -> None:
    """A last.pt written before model.pt existed keeps its result under "best" and has no model.pt."""
    archive = write_archive(tmp_path / "fer.npz")
    model_dir = tmp_path / "model"
    common = ["--data", str(archive), "--model-dir", str(model_dir), "--batch-size", "32", "--threads", "1",
              "--epochs", "1"]
    run_training(common)
    checkpoints = model_dir / "checkpoints"
    state = torch.load(checkpoints / "last.pt", weights_only=False)
    state["best"] = state.pop("chosen")
    torch.save(state, checkpoints / "last.pt")
    (checkpoints / train_module.CHOSEN_NAME).unlink()

    summary = run_training(common)  # nothing left to train: exports the final weights
    chosen = torch.load(checkpoints / train_module.CHOSEN_NAME, weights_only=False)
    for name, weights in state["net"].items():
        torch.testing.assert_close(chosen["net"][name], weights)
    # Its old "best" figures belong to weights it no longer exports: the summary claims no epoch's.
    assert "accuracy" not in summary and summary["select"] == "final"


def test_best_public_test_resumed_from_before_select_claims_only_the_weights_it_exports(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "fer.npz")
    model_dir = tmp_path / "model"
    common = ["--data", str(archive), "--model-dir", str(model_dir), "--batch-size", "32", "--threads", "1",
              "--select", "best-public-test"]
    run_training([*common, "--epochs", "1"])
    checkpoints = model_dir / "checkpoints"
    state = torch.load(checkpoints / "last.pt", weights_only=False)
    state["best"] = {**state.pop("chosen"), "accuracy": 2.0}  # an old best no later epoch can beat
    torch.save(state, checkpoints / "last.pt")
    (checkpoints / train_module.CHOSEN_NAME).unlink()

    summary = run_training([*common, "--epochs", "2"])
    chosen = torch.load(checkpoints / train_module.CHOSEN_NAME, weights_only=False)
    assert summary["epoch"] == 2 and summary["accuracy"] <= 1.0 and chosen["result"]["epoch"] == 2
    assert summary["select"] == "best-public-test"


def test_a_finished_run_keeps_the_rule_that_chose_its_weights(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "fer.npz")
    common = ["--data", str(archive), "--model-dir", str(tmp_path / "model"), "--batch-size", "32",
              "--threads", "1", "--epochs", "1"]
    run_training([*common, "--select", "best-public-test"])
    assert run_training(common)["select"] == "best-public-test"  # nothing left to train under "final"


@pytest.mark.parametrize("views", [("face",), VIEWS])
def test_onnx_export_agrees_with_torch(tmp_path: Path, views: tuple[str, ...]) -> None:
    torch.manual_seed(1)
    net = ExpressionNet().eval()
    # Non-trivial batch-norm statistics so the comparison exercises them.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "m.onnx"
    export_onnx(net, path, "test-model", "0.0.1", views=views)
    pixels = torch.from_numpy(np.random.default_rng(2).uniform(0, 255, (5, 1, 48, 48)).astype(np.float32))
    with torch.no_grad():
        expected = Probabilities(net, views)(pixels).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: pixels.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got.shape == (5, 7)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["moodlens.model_id"] == "test-model" and meta["moodlens.model_version"] == "0.0.1"


def test_runs_as_sagemaker_script_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = tmp_path / "input" / "data" / "training"
    channel.mkdir(parents=True)
    write_archive(channel / train_module.ARCHIVE_NAME)
    model_dir = tmp_path / "opt" / "ml" / "model"
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(channel))
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    args = train_module.parse_args(["--epochs", "1", "--batch-size", "48", "--threads", "1",
                                    "--checkpoint-dir", str(tmp_path / "ckpt")])
    assert Path(args.data) == channel and Path(args.model_dir) == model_dir
    train_module.train(args)
    assert (model_dir / "expression.onnx").stat().st_size > 100_000


def test_sagemaker_checkpoint_default_and_missing_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    monkeypatch.delenv("SM_CHANNEL_TRAINING", raising=False)
    with pytest.raises(SystemExit):
        train_module.parse_args([])
    args = train_module.parse_args(["--data", "x.npz", "--unknown-sagemaker-flag", "1"])
    assert args.checkpoint_dir == "/opt/ml/checkpoints"


def test_views_average_what_each_view_predicts() -> None:
    torch.manual_seed(3)
    net = ExpressionNet().eval()
    pixels = torch.rand(3, 1, 48, 48) * 255
    with torch.no_grad():
        averaged = Probabilities(net, ("face", "mirror"))(pixels)
        face = torch.softmax(net(pixels), dim=1)
        mirror = torch.softmax(net(pixels.flip(3)), dim=1)
    torch.testing.assert_close(averaged, (face + mirror) / 2)
    with pytest.raises(ValueError, match="views must be"):
        Probabilities(net, ("sideways",))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_comes_back_from_its_checkpoint_and_exports_faithfully(tmp_path: Path,
                                                                                  arch: str) -> None:
    torch.manual_seed(4)
    net = build_net(arch, 12).eval()  # not 8: ResidualNet's stem has 8 channels whatever the width
    checkpoint = tmp_path / "model.pt"
    torch.save({"net": net.state_dict(), "arch": arch}, checkpoint)
    restored, _ = net_from_checkpoint(checkpoint)  # the width is read back from the weights
    assert type(restored) is type(net)
    pixels = torch.from_numpy(np.random.default_rng(5).uniform(0, 255, (3, 1, 48, 48)).astype(np.float32))
    with torch.no_grad():
        expected = torch.softmax(net(pixels), dim=1).numpy()
        torch.testing.assert_close(torch.softmax(restored(pixels), dim=1).numpy(), expected)
    path = tmp_path / "m.onnx"
    export_onnx(restored, path, "m", "0")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {INPUT_NAME: pixels.numpy()})[0], expected, atol=1e-5)


def test_resuming_another_architecture_or_width_is_refused_by_name(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "fer.npz")
    model_dir = tmp_path / "model"
    common = ["--data", str(archive), "--model-dir", str(model_dir), "--batch-size", "32", "--threads", "1",
              "--epochs", "1", "--width", "8"]
    run_training(common)
    last = model_dir / "checkpoints" / "last.pt"
    for other in (["--width", "16"], ["--arch", "compact"]):
        with pytest.raises(SystemExit, match="holds a run of --arch vgg --width 8") as refused:
            run_training([*common, *other])
        assert str(last) in str(refused.value)
    # A checkpoint from before "width" was recorded: the width is read from its weights.
    state = torch.load(last, weights_only=False)
    del state["width"]
    torch.save(state, last)
    with pytest.raises(SystemExit, match="--width 8; this run asks for --arch vgg --width 16"):
        run_training([*common, "--width", "16"])
    assert run_training([*common, "--epochs", "2"])["epoch"] == 2  # the same shape resumes
