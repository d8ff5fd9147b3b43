"""Trains the expression CNN on FER2013 and exports ONNX.

Runs the same way locally (`make train`) and as an Amazon SageMaker script-mode entry point:
SageMaker passes hyperparameters as command-line flags and the locations as SM_* variables, so
nothing here needs the SageMaker SDK.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script, as SageMaker does: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.augment import augment
from training.data import EXPRESSIONS, load_split, load_training_split
from training.evaluation import score
from training.export import export_onnx
from training.network import ARCHITECTURES, build_net, width_of

ARCHIVE_NAME = "fer2013_dev.npz"
# The checkpoint a run exports and `training.publish` ships, beside the resumable last.pt.
CHOSEN_NAME = "model.pt"
# How a run picks the epoch whose weights become model.pt. "final": the last epoch, so the public
# test never influences the model it then scores. "best-public-test": the epoch that scored best on
# it, as models up to 1.0.1 were chosen; the figure is then optimistic by the epochs' spread.
SELECTIONS = ("final", "best-public-test")


def build_parser(description: str | None = __doc__) -> argparse.ArgumentParser:
    """The flags shared by train.py and distill.py (which adds its own to this parser)."""
    env = os.environ
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=env.get("SM_CHANNEL_TRAINING"),
                   help="FER2013 .npz archive, or a folder holding " + ARCHIVE_NAME)
    p.add_argument("--model-dir", default=env.get("SM_MODEL_DIR", "build/model"))
    p.add_argument("--checkpoint-dir", default=None,
                   help="where to save and resume from (default: /opt/ml/checkpoints on SageMaker, "
                        "else MODEL_DIR/checkpoints)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--ferplus-weight", type=float, default=0.3,
                   help="share of the FER+ annotators' vote distribution in each soft target")
    p.add_argument("--class-weight-power", type=float, default=0.3,
                   help="loss weight per class = (count/mean)^-power; 0 disables")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--arch", choices=ARCHITECTURES, default="vgg",
                   help="vgg: ExpressionNet (the shipped model and the teacher); compact: the fast student; "
                        "compact-plain: it with full 3x3 convolutions; residual: the anchor's mini-Xception shape")
    p.add_argument("--select", choices=SELECTIONS, default="final",
                   help="which epoch becomes model.pt: the final one (the public test only reports), or the "
                        "one best on the public test (optimistic; how models up to 1.0.1 were chosen)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    p.add_argument("--train-limit", type=int, default=0, help="train on the first N rows only")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps in total")
    p.add_argument("--model-version", default="1.0.0")
    p.add_argument("--model-id", default="moodlens-expression-vgg32")
    return p


def parse_args(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    env = os.environ
    p = parser or build_parser()
    args, unknown = p.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {unknown}", file=sys.stderr)
    if not args.data:
        p.error("--data is required (or set SM_CHANNEL_TRAINING)")
    if args.checkpoint_dir is None:
        sagemaker_checkpoints = Path("/opt/ml/checkpoints")
        args.checkpoint_dir = str(sagemaker_checkpoints if "SM_MODEL_DIR" in env
                                  else Path(args.model_dir) / "checkpoints")
    return args


def resolve_archive(data: str) -> Path:
    path = Path(data)
    return path / ARCHIVE_NAME if path.is_dir() else path


def class_weights(labels: np.ndarray, power: float) -> torch.Tensor:
    counts = np.bincount(labels, minlength=len(EXPRESSIONS)).astype(np.float64).clip(min=1)
    weights = (counts / counts.mean()) ** -power
    weights /= (weights[labels]).mean()  # keep the average sample weight at 1
    return torch.tensor(weights, dtype=torch.float32)


def predict(net: nn.Module, images: np.ndarray, flip: bool = False) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 512):
            batch = torch.from_numpy(images[start:start + 512]).float().unsqueeze(1)
            probs = F.softmax(net(batch), dim=1)
            if flip:
                probs = (probs + F.softmax(net(batch.flip(-1)), dim=1)) / 2
            out.append(probs.numpy())
    return np.concatenate(out)


def learning_rate(step: int, total: int, peak: float) -> float:
    warmup = max(1, total // 30)
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def save_atomic(state: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def resume(last: Path, net: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
           arch: str, width: int) -> dict[str, Any] | None:
    """Restores what train.py and distill.py both keep in `last.pt` (the net, the optimizer, the data
    order's generator) and returns the whole state for the caller's counters and extras; None when
    there is no `last.pt` yet. A `last.pt` of another architecture or width is refused by name."""
    if not last.exists():
        return None
    state: dict[str, Any] = torch.load(last, weights_only=False)  # nosec B614: our own checkpoint, in our folder
    # Checkpoints without "arch" are "vgg"; train.py's recorded no width before, so it is read from the weights.
    saved_arch = state.get("arch", "vgg")
    saved_width = state.get("width", width_of(state["net"]))
    if (saved_arch, saved_width) != (arch, width):
        raise SystemExit(f"{last} holds a run of --arch {saved_arch} --width {saved_width}; this run asks for "
                         f"--arch {arch} --width {width}. Give it its own --model-dir (or --checkpoint-dir), "
                         "or the same --arch and --width to resume.")
    net.load_state_dict(state["net"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state


def net_state(net: nn.Module, args: argparse.Namespace) -> dict[str, Any]:
    """The weights and what rebuilds them, as every checkpoint (last.pt, model.pt) holds them."""
    return {"net": net.state_dict(), "arch": args.arch, "width": args.width}


def keep_if_chosen(select: str, result: dict[str, Any], chosen: dict[str, Any], checkpoint: dict[str, Any],
                   path: Path) -> dict[str, Any]:
    """Writes this epoch's `checkpoint` to `path` (model.pt) when `select` picks it; the chosen epoch's result.

    Under "final" every epoch overwrites it, so after the last epoch it holds the final weights."""
    if select == "final" or result["accuracy"] > chosen.get("accuracy", -1.0):
        save_atomic({**checkpoint, "result": result, "select": select}, path)
        return result
    return chosen


def pick_device() -> tuple[torch.device, bool]:
    """The device, and whether to train under bf16 autocast there."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # bf16 autocast with channels-last roughly quadruples oneDNN conv training speed on CPUs with
    # AVX512-BF16 or AMX; elsewhere it would be slower, so it is used only where supported.
    use_bf16 = device.type == "cuda" or bool(torch.backends.mkldnn.is_available()
                                              and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return device, use_bf16


@dataclass
class Run:
    """What a training run (train.py, distill.py) starts from: the data as tensors, the net and its optimizer."""

    images: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    x_all: torch.Tensor  # the training faces, (N, 1, 48, 48) float
    t_all: torch.Tensor  # their soft targets
    y_weights: torch.Tensor  # each face's class weight
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    steps_per_epoch: int
    total_steps: int


def prepare(args: argparse.Namespace, device: torch.device) -> Run:
    """The data (--train-limit applied), a fresh net on `device` (channels-last) and its SGD optimizer.

    The net is built here, after anything the caller built before (its weights come from torch's
    seeded generator, so what is built first decides them)."""
    archive = resolve_archive(args.data)
    train_split = load_training_split(archive, args.ferplus_weight)
    val_images, val_labels = load_split(archive, "test_public")
    images, targets, labels = train_split.images, train_split.targets, train_split.labels
    if args.train_limit:
        images, targets, labels = images[:args.train_limit], targets[:args.train_limit], labels[:args.train_limit]
        val_images, val_labels = val_images[:args.train_limit], val_labels[:args.train_limit]
    net = build_net(args.arch, args.width).to(device)
    net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # missing from torch stubs
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(images) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    return Run(images, val_images, val_labels, torch.from_numpy(images).float().unsqueeze(1),
               torch.from_numpy(targets), class_weights(labels, args.class_weight_power)[torch.from_numpy(labels)],
               net, optimizer, steps_per_epoch, total_steps)


def ensure_chosen(net: nn.Module, args: argparse.Namespace, chosen_path: Path) -> bool:
    """Saves the current weights as model.pt where no epoch ended yet (--max-steps), or where a run
    begun before model.pt existed resumes already finished; True when it had to."""
    if chosen_path.exists():
        return False
    save_atomic({**net_state(net, args), "result": {}, "select": args.select}, chosen_path)
    return True


def chosen_so_far(state: dict[str, Any], chosen_path: Path) -> dict[str, Any]:
    """The chosen epoch's result from a resumed last.pt, or {} where model.pt does not hold its weights:
    a run begun before model.pt existed (its last.pt says "best", of a best.pt no longer read) then
    chooses again from the epochs still to come, or exports its final weights if none are left."""
    return dict(state.get("chosen", {})) if chosen_path.exists() else {}


def export_chosen(args: argparse.Namespace, chosen_path: Path, chosen: dict[str, Any], train_rows: int,
                  **extra: Any) -> dict[str, Any]:
    """Exports model.pt to MODEL_DIR/expression.onnx and writes metrics.json; the summary."""
    final = build_net(args.arch, args.width)
    saved = torch.load(chosen_path, weights_only=False)  # nosec B614: our own checkpoint
    final.load_state_dict(saved["net"])
    model_dir = Path(args.model_dir)
    sha = export_onnx(final.eval(), model_dir / "expression.onnx", args.model_id, args.model_version,
                      {k: float(v) for k, v in chosen.items()})
    # The rule that chose these weights: a finished run resumed under another --select keeps its own.
    summary = {**chosen, "select": saved.get("select", args.select), "sha256": sha, "train_rows": train_rows,
               "epochs": args.epochs, **extra}
    (model_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)
    return summary


def train(args: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, use_bf16 = pick_device()
    run = prepare(args, device)
    images, val_images, val_labels = run.images, run.val_images, run.val_labels
    x_all, t_all, y_weights, net, optimizer = run.x_all, run.t_all, run.y_weights, run.net, run.optimizer
    steps_per_epoch, total_steps = run.steps_per_epoch, run.total_steps

    checkpoints = Path(args.checkpoint_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    last, chosen_path = checkpoints / "last.pt", checkpoints / CHOSEN_NAME
    step, epoch, chosen = 0, 0, {}
    generator = torch.Generator().manual_seed(args.seed)
    state = resume(last, net, optimizer, generator, args.arch, args.width)
    if state is not None:
        step, epoch, chosen = state["step"], state["epoch"], chosen_so_far(state, chosen_path)
        print(f"resumed from {last}: epoch {epoch}, step {step}, chosen {chosen}", flush=True)

    while step < total_steps:
        net.train()
        started = time.time()
        order = torch.randperm(len(images), generator=generator)
        running = 0.0
        for start in range(0, len(order), args.batch_size):
            if step >= total_steps:
                break
            idx = order[start:start + args.batch_size]
            batch = augment(x_all[idx], generator).to(device).contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total_steps, args.lr)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = net(batch)
            log_probs = F.log_softmax(logits.float(), dim=1)
            per_sample = -(t_all[idx].to(device) * log_probs).sum(dim=1)
            loss = (per_sample * y_weights[idx].to(device)).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item()
            step += 1
        epoch += 1
        net_cpu = net.to("cpu")
        scores = score(val_labels, predict(net_cpu, val_images).argmax(1), len(EXPRESSIONS))
        flip_scores = score(val_labels, predict(net_cpu, val_images, flip=True).argmax(1), len(EXPRESSIONS))
        net.to(device)
        result = {"epoch": epoch, "accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
                  "flip_accuracy": flip_scores.accuracy, "flip_macro_f1": flip_scores.macro_f1}
        print(f"epoch {epoch} loss {running / steps_per_epoch:.4f} val acc {scores.accuracy:.4f} "
              f"f1 {scores.macro_f1:.4f} (flip-TTA acc {flip_scores.accuracy:.4f} "
              f"f1 {flip_scores.macro_f1:.4f}) {time.time() - started:.0f}s", flush=True)
        chosen = keep_if_chosen(args.select, result, chosen, net_state(net, args), chosen_path)
        save_atomic({**net_state(net, args), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
                     "chosen": chosen, "generator": generator.get_state()}, last)

    ensure_chosen(net, args, chosen_path)
    return export_chosen(args, chosen_path, chosen, len(images))


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
