"""Fine-tunes the expression model on a site's own labelled crops mixed with FER2013.

    make finetune MANIFEST=manifest.jsonl CROPS=var/moodlens/label-crops BASE=edge/models/expression.onnx

Starts from the shipped model (its ONNX file is lifted back into a float net, `training.onnx_base`)
or from a training checkpoint (`make train` writes one), mixes each batch from the site's crops and
FER2013's training faces (``--fer-share``), holds out whole camera-days of the site data
(`training.site_data`), and scores base and fine-tuned models on the held-out site data and on
FER2013's public test. It refuses to write a model that is worse than the base on the public test by
more than ``--margin`` (default one point of accuracy): a site must not buy its own faces with
everyone else's. Also a SageMaker script-mode entry point: SM_CHANNEL_TRAINING (the FER2013
archive), SM_CHANNEL_SITE (manifest.jsonl, crops/ and label.key), SM_MODEL_DIR.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script, as SageMaker does: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F

from schemas.expressions import EXPRESSIONS
from training.augment import augment
from training.data import load_split, load_training_split
from training.evaluation import Scores, score
from training.network import ExpressionNet
from training.onnx_base import CALIBRATION_FACES, lift_onnx
from training.train import predict, resolve_archive


class WorseModelError(RuntimeError):
    """The fine-tuned model lost more than the margin on FER2013's public test; nothing was written."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    site = Path(env["SM_CHANNEL_SITE"]) if env.get("SM_CHANNEL_SITE") else None
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", type=Path, default=site / "manifest.jsonl" if site else None)
    p.add_argument("--crops", type=Path, default=site / "crops" if site else None, help="the crop store")
    p.add_argument("--key", type=Path, default=site / "label.key" if site else Path("~/.moodlens/label.key"))
    p.add_argument("--base", type=Path, required=True,
                   help="what to start from: the shipped ONNX model (edge/models/expression.onnx) or a checkpoint "
                        "(make train's model.pt)")
    p.add_argument("--data", default=env.get("SM_CHANNEL_TRAINING"), help="FER2013 .npz archive")
    p.add_argument("--out", type=Path, default=Path(env.get("SM_MODEL_DIR", "build/finetune")))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--fer-share", type=float, default=0.5, help="share of each batch from FER2013")
    p.add_argument("--holdout", type=float, default=0.25, help="share of camera-days held out")
    p.add_argument("--margin", type=float, default=0.01, help="largest accuracy drop allowed on the public test")
    p.add_argument("--width", type=int, default=32, help="a checkpoint base's width (an ONNX base carries its own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--model-version", default="1.0.0-site")
    p.add_argument("--model-id", default="moodlens-expression-vgg32")
    args = p.parse_args(argv)
    for name in ("manifest", "crops", "data"):
        if getattr(args, name) is None:
            p.error(f"--{name} is required")
    if not 0 <= args.fer_share < 1:
        p.error(f"--fer-share must be in [0, 1), got {args.fer_share}")
    return args


def _scores(net: ExpressionNet, images: np.ndarray, labels: np.ndarray) -> Scores:
    return score(labels, predict(net, images).argmax(1), len(EXPRESSIONS))


def _figures(s: Scores) -> dict[str, Any]:
    return {"accuracy": round(s.accuracy, 4), "macro_f1": round(s.macro_f1, 4),
            "recall": {n: round(float(r), 4) for n, r in zip(EXPRESSIONS, s.recall, strict=True)}}


def _base_net(base: Path, width: int, calibration: np.ndarray) -> tuple[ExpressionNet, tuple[str, ...]]:
    """The float net to start from and the test-time views to export it with.

    An ONNX file (the shipped model, or one the registry serves) is lifted back into a float net
    (`training.onnx_base`); a checkpoint (make train's model.pt) is loaded as it is.
    """
    if not base.is_file():
        raise FileNotFoundError(f"--base {base}: no such file")
    if base.suffix == ".onnx":
        lifted = lift_onnx(base, calibration)
        return lifted.net, lifted.views
    net = ExpressionNet(width=width)
    net.load_state_dict(torch.load(base, weights_only=False)["net"])  # nosec B614: the operator's checkpoint
    return net, ("face",)


def finetune(args: argparse.Namespace) -> dict[str, Any]:
    from training.confusion_plot import write_confusion_png
    from training.export import export_onnx
    from training.labeling.crops import CropStore, load_or_create_key
    from training.site_data import load_site_data, split_by_camera_day

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    key = args.key.expanduser()
    if not key.exists():
        raise FileNotFoundError(f"no key at {key}: the crop store's key is needed to read the crops")
    store = CropStore(args.crops, load_or_create_key(key), int(time.time() * 1000))
    site = load_site_data(args.manifest, store)
    train_rows, held_rows = split_by_camera_day(site.groups, args.holdout, args.seed)
    site_train, site_held = site.subset(train_rows), site.subset(held_rows)
    archive = resolve_archive(args.data)
    fer = load_training_split(archive, 0.3)
    test_images, test_labels = load_split(archive, "test_public")
    held_labels = site_held.targets.argmax(1)

    base, views = _base_net(args.base, args.width, fer.images[:CALIBRATION_FACES])
    before = {"fer_public_test": _scores(base, test_images, test_labels),
              "site_held_out": _scores(base, site_held.images, held_labels)}
    net = copy.deepcopy(base)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    generator = torch.Generator().manual_seed(args.seed)
    n_fer = round(args.batch_size * args.fer_share)
    n_site = args.batch_size - n_fer
    x_site, t_site = torch.from_numpy(site_train.images).float().unsqueeze(1), torch.from_numpy(site_train.targets)
    x_fer, t_fer = torch.from_numpy(fer.images).float().unsqueeze(1), torch.from_numpy(fer.targets)
    steps = args.epochs * max(1, len(site_train.images) // max(1, n_site))
    started = time.time()
    net.train()
    for _ in range(steps):
        s = torch.randint(len(x_site), (n_site,), generator=generator)
        f = torch.randint(len(x_fer), (n_fer,), generator=generator)
        batch = augment(torch.cat([x_site[s], x_fer[f]]), generator)
        targets = torch.cat([t_site[s], t_fer[f]])
        loss = -(targets * F.log_softmax(net(batch), dim=1)).sum(dim=1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    after = {"fer_public_test": _scores(net, test_images, test_labels),
             "site_held_out": _scores(net, site_held.images, held_labels)}
    summary = {"train_crops": len(site_train.images), "held_out_crops": len(site_held.images),
               "held_out_camera_days": sorted(set(site_held.groups)), "missing_crops": site.missing,
               "steps": steps, "seconds": round(time.time() - started, 1), "margin": args.margin,
               "before": {k: _figures(v) for k, v in before.items()},
               "after": {k: _figures(v) for k, v in after.items()}}
    drop = before["fer_public_test"].accuracy - after["fer_public_test"].accuracy
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "finetune.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_confusion_png(after["site_held_out"].confusion, EXPRESSIONS,
                        f"fine-tuned on held-out site camera-days (acc {after['site_held_out'].accuracy:.3f})",
                        args.out / "confusion_site_held_out.png")
    if drop > args.margin:
        raise WorseModelError(f"refused: FER2013 public test accuracy fell {drop:.4f} (from "
                              f"{before['fer_public_test'].accuracy:.4f} to {after['fer_public_test'].accuracy:.4f}), "
                              f"more than --margin {args.margin}; no model written "
                              f"(figures in {args.out}/finetune.json)")
    summary["sha256"] = export_onnx(net.eval(), args.out / "expression.onnx", args.model_id, args.model_version,
                                    {"accuracy": after["fer_public_test"].accuracy,
                                     "macro_f1": after["fer_public_test"].macro_f1}, views=views)
    (args.out / "finetune.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    try:
        summary = finetune(parse_args(argv))
    except WorseModelError as error:
        print(error, file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f"finetune: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("train_crops", "held_out_crops", "steps", "seconds", "before",
                                               "after")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
