"""How long fine-tuning takes on this machine, from the shipped ONNX model, with a stand-in site.

    taskset -c 1 .venv/bin/python benchmarks/finetune_time.py [--crops 1024] [--data FER.npz]

The stand-in: FER2013 public-test faces posing as a site's labelled crops (8 camera-days over 4
cameras, labels from FER2013), in an encrypted crop store with consent recorded, as `label
collect` and `label rekognition` leave them. It times what `make finetune` runs: lifting the
shipped file, scoring base and result, the training steps. Timing only: these faces are FER2013's
own test faces, so the accuracy figures it also prints are not a site's and not a fair public-test
score; per-class change on a real site needs a real site's labelled crops.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (as the README does): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from schemas.expressions import EXPRESSIONS
from training import finetune
from training.labeling.crops import Consent, CropStore, load_or_create_key


def stand_in_site(folder: Path, faces: np.ndarray, labels: np.ndarray, now_ms: int) -> tuple[Path, Path, Path]:
    key = folder / "label.key"
    store = CropStore(folder / "crops", load_or_create_key(key), now_ms=now_ms)
    store.record_consent(Consent("benchmark", "2026-11-30", "fine-tune timing", 365))
    lines = []
    for i, (face, label) in enumerate(zip(faces, labels, strict=True)):
        group = i % 8
        camera, day = f"cam-{group % 4}", group // 4
        store.add(f"c{i}", cv2.imencode(".jpg", face)[1].tobytes(), "stand-in", camera, now_ms + i)
        soft = {name: 0.0 for name in EXPRESSIONS}
        soft[EXPRESSIONS[int(label)]] = 1.0
        lines.append({"crop-id": f"c{i}", "camera-id": camera, "day": f"2026-11-{day + 1:02d}",
                      "expression": int(label), "expression-soft": soft})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest, folder / "crops", key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fer2013/fer2013_dev.npz"))
    parser.add_argument("--base", type=Path, default=Path("edge/models/expression.onnx"))
    parser.add_argument("--crops", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    with np.load(args.data) as archive:
        faces, labels = archive["x_test_public"][:args.crops], archive["y_test_public"][:args.crops]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        manifest, crops, key = stand_in_site(folder, faces, labels, int(time.time() * 1000))
        started, cpu = time.time(), time.process_time()
        summary = finetune.finetune(finetune.parse_args([
            "--manifest", str(manifest), "--crops", str(crops), "--key", str(key), "--base", str(args.base),
            "--data", str(args.data), "--out", str(folder / "out"), "--threads", "1", "--margin", "1.0",
            "--epochs", str(args.epochs)]))
        print(f"fine-tune from {args.base}, one thread: {time.time() - started:.0f} s wall, "
              f"{time.process_time() - cpu:.0f} s CPU in all (lifting, scoring before and after, training); "
              f"training {summary['seconds']} s for {summary['steps']} steps ({args.epochs} epochs over "
              f"{summary['train_crops']} crops, as many FER2013 faces mixed in); "
              f"{summary['held_out_crops']} crops held out")


if __name__ == "__main__":
    main()
