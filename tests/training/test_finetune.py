"""Fine-tuning on a site's labelled crops: held out by camera-day, refused when worse on the public test."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from schemas.expressions import EXPRESSIONS
from tests.training.test_train import write_archive
from training import finetune as finetune_module
from training.labeling.crops import Consent, CropStore, load_or_create_key
from training.network import ExpressionNet
from training.site_data import load_site_data, split_by_camera_day

NOW_MS = 1_780_000_000_000
DAY_MS = 86_400_000


def site(tmp_path: Path, camera_days: int = 4, per_day: int = 6) -> tuple[Path, Path, Path]:
    key = tmp_path / "label.key"
    store = CropStore(tmp_path / "crops", load_or_create_key(key), now_ms=NOW_MS)
    store.record_consent(Consent("manager", "2026-11-30", "fine-tune", 365))
    rng = np.random.default_rng(0)
    lines = []
    for group in range(camera_days):
        camera, day = f"cam-{group % 2}", group // 2
        for i in range(per_day):
            label = (group + i) % len(EXPRESSIONS)
            face = (rng.integers(0, 60, (48, 48)) + label * 25).astype(np.uint8)
            crop_id = f"c{group}-{i}"
            store.add(crop_id, cv2.imencode(".jpg", face)[1].tobytes(), "cafe", camera, NOW_MS + day * DAY_MS + i)
            soft = {name: 0.0 for name in EXPRESSIONS}
            soft[EXPRESSIONS[label]] = 1.0
            lines.append({"crop-id": crop_id, "camera-id": camera, "day": f"2026-06-{day + 1:02d}",
                          "expression": label, "expression-soft": soft})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest, tmp_path / "crops", key


def base_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "base.pt"
    torch.save({"net": ExpressionNet(width=8).state_dict()}, path)
    return path


def argv(tmp_path: Path, *extra: str) -> list[str]:
    manifest, crops, key = site(tmp_path)
    return ["--manifest", str(manifest), "--crops", str(crops), "--key", str(key), "--base",
            str(base_checkpoint(tmp_path)), "--data", str(write_archive(tmp_path / "fer.npz")), "--out",
            str(tmp_path / "out"), "--width", "8", "--epochs", "1", "--batch-size", "8", "--threads", "1", *extra]


def test_whole_camera_days_are_held_out_never_single_crops(tmp_path: Path) -> None:
    manifest, crops, key = site(tmp_path)
    data = load_site_data(manifest, CropStore(crops, load_or_create_key(key), NOW_MS))
    train, held = split_by_camera_day(data.groups, 0.25, seed=0)
    assert len(train) + len(held) == 24 and len(held) == 6
    assert not {data.groups[i] for i in train} & {data.groups[i] for i in held}
    with pytest.raises(ValueError, match="at least 2"):
        split_by_camera_day(["cam-0/2026-06-01"] * 5, 0.25, seed=0)


def test_a_fine_tuned_model_is_written_with_before_and_after_figures(tmp_path: Path) -> None:
    summary = finetune_module.finetune(finetune_module.parse_args(argv(tmp_path, "--margin", "1.0")))
    out = tmp_path / "out"
    assert (out / "expression.onnx").is_file() and (out / "confusion_site_held_out.png").is_file()
    assert summary["train_crops"] == 18 and summary["held_out_crops"] == 6
    for when in ("before", "after"):
        for part in ("fer_public_test", "site_held_out"):
            assert set(summary[when][part]["recall"]) == set(EXPRESSIONS)
    assert json.loads((out / "finetune.json").read_text())["sha256"] == summary["sha256"]


def test_a_model_worse_on_the_public_test_than_the_margin_allows_is_refused(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert finetune_module.main(argv(tmp_path, "--margin", "-1.0")) == 1  # any result is "worse" than -1
    assert "refused: FER2013 public test accuracy fell" in capsys.readouterr().err
    assert not (tmp_path / "out" / "expression.onnx").exists()
    assert (tmp_path / "out" / "finetune.json").is_file()  # the figures say why


def test_a_manifest_line_that_does_not_parse_is_named_and_gone_crops_are_counted(tmp_path: Path) -> None:
    manifest, crops, key = site(tmp_path)
    store = CropStore(crops, load_or_create_key(key), NOW_MS)
    (crops / "crops" / "c0-0.enc").unlink()
    manifest.write_text(manifest.read_text() + '{"crop-id": "c1-1", "expression": 9}\n')
    with pytest.raises(ValueError, match=r"manifest.jsonl:25: needs expression-soft or an expression index"):
        load_site_data(manifest, store)
    manifest.write_text("\n".join(manifest.read_text().splitlines()[:24]) + "\n")
    assert load_site_data(manifest, store).missing == 1
    manifest.write_text("not json\n")
    with pytest.raises(ValueError, match=r"manifest.jsonl:1: not JSON"):
        load_site_data(manifest, store)


def test_fine_tuning_starts_from_the_shipped_onnx_file_and_keeps_its_views(tmp_path: Path) -> None:
    """The int8 file the cameras run is lifted back into a float net: 'before' is that file's net."""
    from training.export import export_onnx
    from training.network import VIEWS
    from training.onnx_base import lift_onnx

    torch.manual_seed(0)
    shipped = tmp_path / "expression.onnx"
    export_onnx(ExpressionNet(width=8).eval(), shipped, "moodlens-expression-vgg8", "1.0.0", views=VIEWS)
    args = argv(tmp_path, "--margin", "1.0")
    args[args.index("--base") + 1] = str(shipped)
    summary = finetune_module.finetune(finetune_module.parse_args(args))
    out = tmp_path / "out"
    tuned = lift_onnx(out / "expression.onnx", np.full((4, 48, 48), 128, np.float32))
    assert tuned.views == VIEWS and summary["before"]["fer_public_test"]["accuracy"] >= 0
    before = lift_onnx(shipped, np.full((4, 48, 48), 128, np.float32)).net
    assert any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), tuned.net.state_dict().values(),
                                                         strict=True))


def test_a_base_that_does_not_exist_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argv(tmp_path)
    args[args.index("--base") + 1] = str(tmp_path / "nope.onnx")
    assert finetune_module.main(args) == 2
    assert "--base" in capsys.readouterr().err
