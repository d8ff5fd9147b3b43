"""Distils one or more teachers into the fast student (CompactNet) on FER2013 and exports ONNX.

    make distill TEACHERS="build/model/checkpoints/model.pt other.onnx"

Loss per face: (1 - alpha) x cross-entropy to the soft targets train.py uses (FER label blended
with the FER+ votes) + alpha x T^2 x KL(teachers softened by T || student softened by T), both
weighted by class as in train.py. The teachers see the student's own augmented (and optionally
mixup/cutmix-mixed) batch, each averaging its test-time views (flip, zoom), so the flip and zoom
averaging that the shipped model did at run time is folded into a single-view student.

Resumable like train.py (`last.pt` / `model.pt` in --checkpoint-dir), and also mid-epoch: `last.pt`
is written every --checkpoint-every steps with the epoch's order and every random state, so a run
stopped at any point and started again with the same arguments reaches the same weights as one
that never stopped. Runs unchanged on CPU and CUDA, locally or as a SageMaker script-mode entry
point (hyperparameters as flags, locations from SM_* variables, like train.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script, as SageMaker does: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F

from training import train as base
from training.augment import augment, mix_batch
from training.data import EXPRESSIONS
from training.evaluation import score
from training.network import VIEWS
from training.teacher_cache import build_cache, cache_key
from training.teachers import Teacher, ensemble_probabilities, load_teacher, soften


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = base.build_parser(__doc__)
    p.add_argument("--teachers", nargs="+", default=[],
                   help="teacher checkpoints (.pt) and/or ONNX files; their probabilities are averaged")
    p.add_argument("--teacher-views", default=",".join(VIEWS),
                   help=f"test-time views a checkpoint teacher averages, from {VIEWS} "
                        "(an ONNX teacher uses the views in its graph)")
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.7, help="share of the distillation term in the loss")
    p.add_argument("--mixup", type=float, default=0.2, help="mixup Beta(a, a); 0 disables")
    p.add_argument("--cutmix", type=float, default=0.0, help="cutmix Beta(a, a); 0 disables")
    p.add_argument("--mix-prob", type=float, default=0.5, help="share of batches that are mixed")
    p.add_argument("--teacher-cache-copies", type=int, default=0,
                   help="K > 0: the teachers label K augmented copies of each face once (stored beside the "
                        "checkpoints), each epoch draws one copy per face; 0: teachers on every batch")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between mid-epoch last.pt saves")
    p.add_argument("--stop-after-steps", type=int, default=0,
                   help="save last.pt and stop after N steps in this invocation (a planned interruption)")
    # The student's defaults; the teacher's are train.py's.
    p.set_defaults(arch="compact", width=40, model_id="moodlens-expression-compact40", lr=0.1, weight_decay=1e-4,
                   model_dir=os.environ.get("SM_MODEL_DIR", "build/distill"))
    args = base.parse_args(argv, p)
    args.teacher_views = tuple(v for v in args.teacher_views.split(",") if v)
    if not args.teachers:
        p.error("--teachers is required: one or more checkpoints or ONNX files to learn from")
    return args


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor,
                      weights: torch.Tensor, alpha: float, temperature: float) -> torch.Tensor:
    """Batch mean of (1 - alpha) CE(targets) + alpha T^2 KL(soft teacher || soft student), class-weighted."""
    hard = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    soft_teacher = soften(teacher, temperature)
    student_log = F.log_softmax(logits / temperature, dim=1)
    kl = (soft_teacher * (torch.log(soft_teacher.clamp_min(1e-8)) - student_log)).sum(dim=1)
    return (((1 - alpha) * hard + alpha * temperature ** 2 * kl) * weights).mean()


def _rng_states() -> dict[str, object]:
    states: dict[str, object] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def distill(args: argparse.Namespace) -> dict[str, object] | None:
    """Trains the student; returns the summary, or None when stopped by --stop-after-steps."""
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, use_bf16 = base.pick_device()
    teachers: list[Teacher] = [load_teacher(Path(t), args.teacher_views, device, max(1, torch.get_num_threads()))
                               for t in args.teachers]
    for teacher in teachers:
        print(f"teacher: {teacher.name}", flush=True)
    run = base.prepare(args, device)  # the student, built after the teachers as before
    images, val_images, val_labels = run.images, run.val_images, run.val_labels
    x_all, t_all, y_weights, net, optimizer = run.x_all, run.t_all, run.y_weights, run.net, run.optimizer
    steps_per_epoch, total_steps = run.steps_per_epoch, run.total_steps

    checkpoints = Path(args.checkpoint_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    cache = None
    if args.teacher_cache_copies:
        key = cache_key(args.teachers, args.teacher_views, args.seed, x_all)
        cache = build_cache(checkpoints / "teacher-cache", key, args.teacher_cache_copies, x_all, teachers,
                            args.seed, 512, device)
    last, chosen_path = checkpoints / "last.pt", checkpoints / base.CHOSEN_NAME
    step, epoch, chosen = 0, 0, {}
    generator = torch.Generator().manual_seed(args.seed)
    order, position, running = None, 0, 0.0
    state = base.resume(last, net, optimizer, generator, args.arch, args.width)
    if state is not None:
        step, epoch, chosen = state["step"], state["epoch"], base.chosen_so_far(state, chosen_path)
        _restore_rng_states(state["rng"])
        order, position, running = state["order"], state["position"], state["running"]
        print(f"resumed from {last}: epoch {epoch}, step {step}, position {position}, chosen {chosen}", flush=True)

    def save_last() -> None:
        base.save_atomic({**base.net_state(net, args), "optimizer": optimizer.state_dict(), "step": step,
                          "epoch": epoch, "chosen": chosen, "generator": generator.get_state(),
                          "rng": _rng_states(), "order": order, "position": position, "running": running}, last)

    steps_this_run = 0
    while step < total_steps:
        net.train()
        started = time.time()
        if order is None or position >= len(order):
            order, position, running = torch.randperm(len(images), generator=generator), 0, 0.0
        while position < len(order) and step < total_steps:
            if args.stop_after_steps and steps_this_run >= args.stop_after_steps:
                save_last()
                print(f"stopped after {steps_this_run} steps (step {step}); run again to resume", flush=True)
                return None
            idx = order[position:position + args.batch_size]
            soft_targets, weights = t_all[idx].to(device), y_weights[idx].to(device)
            if cache is None:
                batch = augment(x_all[idx], generator).to(device)
            else:
                batch, cached = cache.draw(idx, generator)
                batch, soft_targets = batch.to(device), torch.cat([soft_targets, cached.to(device)], dim=1)
            # Per-step numpy generator: resumable without carrying its state in the checkpoint.
            mixing = np.random.default_rng([args.seed, step])
            if mixing.random() < args.mix_prob:  # with the cache, its probabilities are mixed alike
                batch, soft_targets = mix_batch(batch, soft_targets, mixing, args.mixup, args.cutmix)
            if cache is not None:
                soft_targets, said = soft_targets[:, :len(EXPRESSIONS)], soft_targets[:, len(EXPRESSIONS):]
            batch = batch.contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = base.learning_rate(step, total_steps, args.lr)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                if cache is None:
                    said = ensemble_probabilities(teachers, batch)
                logits = net(batch)
            loss = distillation_loss(logits.float(), soft_targets, said.float(), weights, args.alpha,
                                     args.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item()
            step, position, steps_this_run = step + 1, position + len(idx), steps_this_run + 1
            if args.checkpoint_every and step % args.checkpoint_every == 0:
                save_last()
        if position < len(order):  # --max-steps ended the run inside an epoch
            break
        epoch += 1
        net_cpu = net.to("cpu")
        scores = score(val_labels, base.predict(net_cpu, val_images).argmax(1), len(EXPRESSIONS))
        net.to(device)
        result = {"epoch": epoch, "accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
                  "fear_recall": float(scores.recall[EXPRESSIONS.index("fear")])}
        print(f"epoch {epoch} loss {running / steps_per_epoch:.4f} val acc {scores.accuracy:.4f} "
              f"f1 {scores.macro_f1:.4f} fear {result['fear_recall']:.3f} {time.time() - started:.0f}s", flush=True)
        chosen = base.keep_if_chosen(args.select, result, chosen, base.net_state(net, args), chosen_path)
        save_last()

    if base.ensure_chosen(net, args, chosen_path):  # e.g. stopped by --max-steps before an epoch ended
        save_last()
    return base.export_chosen(args, chosen_path, chosen, len(images), arch=args.arch, width=args.width,
                              teachers=list(args.teachers))

def main(argv: list[str] | None = None) -> int:
    distill(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
