"""How good are these teachers, alone and averaged? The ceiling a distilled student learns under.

    OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python benchmarks/teacher_ensemble.py \
        --data ../shared/data/fer2013/fer2013_dev.npz edge/models/expression.onnx build/model/checkpoints/model.pt

Each teacher is loaded the way `training/distill.py` loads it (an ONNX file with the views in its
graph, a checkpoint with --views) and scored on the split; then the average of their probabilities,
which is what the student is taught. Figures, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from training.data import EXPRESSIONS, load_labelled_split
from training.evaluation import Scores, score
from training.network import VIEWS
from training.teachers import load_teacher


def line(name: str, scores: Scores, seconds: float | None = None) -> str:
    fear = scores.recall[EXPRESSIONS.index("fear")]
    took = f"  ({seconds:.0f} s)" if seconds is not None else ""
    return f"{name:60s} accuracy {scores.accuracy:.4f}  macro-F1 {scores.macro_f1:.4f}  fear {fear:.3f}{took}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teachers", nargs="+", type=Path, help="ONNX files and/or training checkpoints")
    parser.add_argument("--data", type=Path, required=True, help="the FER2013 .npz archive")
    parser.add_argument("--split", default="test_public")
    parser.add_argument("--views", default=",".join(VIEWS), help="test-time views of a checkpoint teacher")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images, labels = load_labelled_split(args.data, args.split)
    pixels = torch.from_numpy(images).float().unsqueeze(1)
    views = tuple(v for v in args.views.split(",") if v)
    said = []
    for path in args.teachers:
        started = time.perf_counter()
        teacher = load_teacher(path, views)
        probabilities = torch.cat([teacher.probabilities(pixels[i:i + 256]) for i in range(0, len(pixels), 256)])
        said.append(probabilities.numpy())
        print(line(str(path), score(labels, said[-1].argmax(1), len(EXPRESSIONS)), time.perf_counter() - started),
              flush=True)
    if len(said) > 1:
        print(line(f"ensemble of {len(said)}", score(labels, np.mean(said, axis=0).argmax(1), len(EXPRESSIONS))))


if __name__ == "__main__":
    main()
