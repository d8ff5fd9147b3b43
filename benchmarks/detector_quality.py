"""Face detectors side by side: recall and precision by face size, false positives per frame, and
time per frame on one core, on labelled real footage and on generated crowd scenes.

    PYTHONPATH=. .venv/bin/python benchmarks/detector_quality.py          # pins itself to core 0

Real: every labelled frame of the bundled clips and photos (`benchmarks/labels/*.json`, boxes
checked by eye). Generated: faces cut from that footage (from the labelled boxes, with a soft
oval edge) pasted at 16-200 px onto real frames (whose own faces stay labelled) and cartoon
frames, 1-6 per scene, rotated in-plane up to +-30 degrees, some blurred, some half covered, some
scenes darkened with sensor noise; at 640x360 and 1280x720, from a fixed seed.

A detection matches a labelled face when each box's centre lies inside the other and their
heights are within a factor of two (boxes differ by convention: Haar's are square, YuNet's run
forehead to chin). Face size is the labelled box's height in the frame's pixels. Time is CPU
time of this one-threaded process (median per frame), so other work on the machine does not
inflate it.

Rows: `yunet` is the full search over every tile, upright and turned (what the edge finds once
its rotation has passed); the last line times a full search as the pipeline runs it (coarse pass,
one tile every second search). A breakdown of the generated faces >= 24 px by how they were made
(size, turn, blur, dim room, half covered) shows where each detector's misses are.
`--detectors yunet` runs YuNet alone (the scenes are the same whichever run).
`haar w320` is the edge's original setting (frames shrunk to 320 px wide), `haar full` the cascade
on the full frame. HOG rows appear when dlib is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.detection.detections import Detections
from edge.detection.haar import HaarFaceDetector, HaarSettings

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO / "data" / "video"
LABELS = REPO / "benchmarks" / "labels"
BUCKETS = ((16, 24), (24, 48), (48, 96), (96, 10_000))


@dataclass
class Scene:
    gray: np.ndarray
    faces: np.ndarray  # (N, 4) xyxy
    kind: str  # "real", "640x360" or "1280x720"
    traits: list[dict[str, object]] = field(default_factory=list)  # per face, generated scenes: how it was made


def read_frames(name: str, indices: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a clip (read in order: seeking in .mov files misses the last frames)."""
    if name.endswith(".jpg"):
        image = cv2.imread(str(VIDEO / name))
        if image is None:
            raise SystemExit(f"cannot read {VIDEO / name}")
        return {0: image}
    capture = cv2.VideoCapture(str(VIDEO / name))
    wanted: dict[int, np.ndarray] = {}
    index = 0
    while len(wanted) < len(indices):
        ok, image = capture.read()
        if not ok:
            break
        if index in indices:
            wanted[index] = image
        index += 1
    capture.release()
    if len(wanted) < len(indices):
        raise SystemExit(f"{VIDEO / name}: frames {sorted(indices - set(wanted))} cannot be read")
    return wanted


def labelled_frames() -> list[tuple[np.ndarray, np.ndarray]]:
    """(BGR frame, its face boxes) for every labelled frame."""
    out = []
    for path in sorted(LABELS.glob("*.json")):
        label = json.loads(path.read_text())
        images = read_frames(label["file"], {int(i) for i in label["frames"]})
        for index, boxes in label["frames"].items():
            out.append((images[int(index)], np.array(boxes, np.float32).reshape(-1, 4)))
    return out


def face_cutouts(frames: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(BGR patch, soft mask 0..1, face box within the patch) for each labelled face, with a margin."""
    cutouts = []
    for image, boxes in frames:
        for x1, y1, x2, y2 in boxes:
            w, h = x2 - x1, y2 - y1
            left, top = int(max(0, x1 - 0.3 * w)), int(max(0, y1 - 0.3 * h))
            right, bottom = int(min(image.shape[1], x2 + 0.3 * w)), int(min(image.shape[0], y2 + 0.25 * h))
            patch = image[top:bottom, left:right].copy()
            oval = np.zeros(patch.shape[:2], np.float32)
            center = (round((x1 + x2) / 2 - left), round((y1 + y2) / 2 - top))
            cv2.ellipse(oval, center, (round(w * 0.62), round(h * 0.66)), 0, 0, 360, 1.0, -1)
            mask = np.asarray(cv2.GaussianBlur(oval, (0, 0), max(1.0, 0.08 * h)), np.float32)
            cutouts.append((patch, mask, np.array([x1 - left, y1 - top, x2 - left, y2 - top], np.float32)))
    return cutouts


def paste(canvas: np.ndarray, cutout: tuple[np.ndarray, np.ndarray, np.ndarray], size: float, angle: float,
          at: tuple[float, float], rng: np.random.Generator, traits: dict[str, object] | None = None) -> np.ndarray:
    """Pastes a face `size` px tall with its centre at `at`; returns the face's box in the canvas and
    notes in `traits` what was done to it (for the breakdown of misses; no extra random draws)."""
    notes = traits if traits is not None else {}
    notes.update(angle=angle, blur=False, cover="")
    patch, mask, box = cutout
    scale = size / float(box[3] - box[1])
    face_center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    # One affine map: scale and rotate about the face centre, then move it to `at`.
    matrix = cv2.getRotationMatrix2D(face_center, angle, scale)
    matrix[:, 2] += np.array(at) - np.array(face_center)
    height, width = canvas.shape[:2]
    warped = cv2.warpAffine(patch, matrix, (width, height), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, matrix, (width, height))[:, :, None]
    if rng.random() < 0.3:  # out of focus or moving
        notes["blur"] = True
        warped = cv2.GaussianBlur(warped, (0, 0), max(0.6, size * rng.uniform(0.02, 0.05)))
    if rng.random() < 0.25:  # a hand, a cup, a menu in front of part of the face
        w = (box[2] - box[0]) * scale
        shade = rng.integers(20, 220, 3).tolist()
        cover = np.zeros((height, width), np.float32)
        notes["cover"] = "lower third" if (lower := rng.random() < 0.5) else "one side"
        if lower:  # lower third
            cv2.rectangle(cover, (round(at[0] - w), round(at[1] + size * 0.2)), (round(at[0] + w), round(at[1] + size)),
                          1.0, -1)
        else:  # one side
            side = 1 if rng.random() < 0.5 else -1
            cv2.rectangle(cover, (round(at[0] + side * w * 0.2), round(at[1] - size)),
                          (round(at[0] + side * w * 1.5), round(at[1] + size)), 1.0, -1)
        cover = cover[:, :, None] * alpha
        warped = np.asarray(warped * (1 - cover) + np.array(shade, np.float32) * cover).astype(np.uint8)
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)
    half_w, half_h = (box[2] - box[0]) * scale / 2, size / 2
    return np.array([at[0] - half_w, at[1] - half_h, at[0] + half_w, at[1] + half_h], np.float32)


def generated_scenes(frames: list[tuple[np.ndarray, np.ndarray]], backgrounds: list[np.ndarray], width: int,
                     height: int, count: int, seed: int) -> list[Scene]:
    rng = np.random.default_rng(seed)
    cutouts = face_cutouts(frames)
    scenes = []
    for _ in range(count):
        pick = int(rng.integers(len(frames) + len(backgrounds)))
        if pick < len(frames):  # a real frame: its own faces stay in the scene and in the labels
            image, boxes = frames[pick]
        else:
            image, boxes = backgrounds[pick - len(frames)], np.zeros((0, 4), np.float32)
        factor = (width / image.shape[1], height / image.shape[0])
        canvas = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        faces = [b * np.array(factor * 2, np.float32) for b in boxes]
        traits: list[dict[str, object]] = [
            {"angle": 0.0, "blur": False, "cover": "", "background": True} for _ in faces]
        for _ in range(int(rng.integers(1, 7))):
            size = float(np.exp(rng.uniform(np.log(16), np.log(min(200, height / 1.9)))))
            for _attempt in range(20):
                at = (rng.uniform(0.75 * size, width - 0.75 * size), rng.uniform(0.75 * size, height - 0.75 * size))
                box = np.array([at[0] - 0.8 * size, at[1] - 0.8 * size, at[0] + 0.8 * size, at[1] + 0.8 * size])
                if all(box[2] < f[0] or box[0] > f[2] or box[3] < f[1] or box[1] > f[3] for f in faces):
                    break
            else:
                continue
            cutout = cutouts[int(rng.integers(len(cutouts)))]
            traits.append({"background": False})
            faces.append(paste(canvas, cutout, size, rng.uniform(-30, 30), at, rng, traits[-1]))
        dim = rng.random() < 0.3
        if dim:  # a dim room: darker, flatter, noisier
            darker = canvas.astype(np.float32) * rng.uniform(0.35, 0.6) + rng.normal(0, 3, canvas.shape)
            canvas = np.clip(darker, 0, 255).astype(np.uint8)
        scenes.append(Scene(cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY), np.array(faces, np.float32).reshape(-1, 4),
                            f"{width}x{height}", [{**t, "dim": dim} for t in traits]))
    return scenes


def cartoon_backgrounds() -> list[np.ndarray]:
    """Frames without a face (the Caminandes titles); a few, spread over the segment."""
    return [*read_frames("face_noface.mov", {80, 100, 130, 160}).values(),
            *read_frames("noface_face.mov", {5, 40, 90}).values()]


@dataclass
class Tally:
    faces: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(len(BUCKETS)), 0))
    found: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(len(BUCKETS)), 0))
    detections: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(len(BUCKETS)), 0))
    correct: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(len(BUCKETS)), 0))
    false: int = 0
    frames: int = 0
    seconds: dict[str, list[float]] = field(default_factory=dict)
    outcomes: list[tuple[dict[str, object], bool]] = field(default_factory=list)  # faces >= 24 px: traits, found


def bucket(height: float) -> int | None:
    return next((i for i, (low, high) in enumerate(BUCKETS) if low <= height < high), None)


def matches(detection: np.ndarray, face: np.ndarray) -> bool:
    def inside(point: np.ndarray, box: np.ndarray) -> bool:
        return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])

    ratio = (detection[3] - detection[1]) / max(1e-6, face[3] - face[1])
    return inside((detection[:2] + detection[2:]) / 2, face) and inside((face[:2] + face[2:]) / 2, detection) \
        and 0.5 <= ratio <= 2.0


def score(tally: Tally, found: Detections, faces: np.ndarray, scene_kind: str = "real",
          traits: list[dict[str, object]] | None = None) -> None:
    tally.frames += 1
    used = set()
    for index, face in enumerate(faces):
        which = bucket(float(face[3] - face[1]))
        hit = next((i for i, d in enumerate(found.xyxy) if i not in used and matches(d, face)), None)
        if which is None:  # smaller than any bucket: a detection of it is neither right nor false
            if hit is not None:
                used.add(hit)
            continue
        tally.faces[which] += 1
        if which > 0:
            tally.outcomes.append(({**(traits[index] if traits else {}), "kind": scene_kind,
                                    "height": float(face[3] - face[1])}, hit is not None))
        if hit is not None:
            used.add(hit)
            tally.found[which] += 1
            tally.detections[which] += 1
            tally.correct[which] += 1
    for i, box in enumerate(found.xyxy):
        if i not in used:
            tally.false += 1
            which = bucket(float(box[3] - box[1]))
            tally.detections[which if which is not None else 0] += 1


def evaluate(detect: Callable[[np.ndarray], Detections], scenes: list[Scene]) -> Tally:
    tally = Tally()
    for scene in scenes:
        start = time.process_time()  # CPU time: a busy machine does not inflate it
        found = detect(scene.gray)
        tally.seconds.setdefault(scene.kind, []).append(time.process_time() - start)
        score(tally, found, scene.faces, scene.kind, scene.traits)
    return tally


def combined(parts: list[Tally]) -> Tally:
    total = Tally()
    for part in parts:
        for name in ("faces", "found", "detections", "correct"):
            for key, value in getattr(part, name).items():
                getattr(total, name)[key] += value
        total.false += part.false
        total.frames += part.frames
        total.outcomes.extend(part.outcomes)
        for kind, values in part.seconds.items():
            total.seconds.setdefault(kind, []).extend(values)
    return total


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    - "


def row(label: str, t: Tally) -> str:
    recalls = "  ".join(f"{percent(t.found[i], t.faces[i])}" for i in range(len(BUCKETS)))
    big = sum(t.found[i] for i in range(1, len(BUCKETS))), sum(t.faces[i] for i in range(1, len(BUCKETS)))
    detections, correct = sum(t.detections.values()), sum(t.correct.values())
    precision = "  ".join(percent(t.correct[i], t.detections[i]) for i in range(len(BUCKETS)))
    ms = "  ".join(f"{1000 * float(np.median(t.seconds.get(k, [np.nan]))):7.1f}" for k in ("640x360", "1280x720"))
    return (f"{label:18} {recalls}   {percent(*big)}   {precision}   {percent(correct, detections)}  "
            f"{t.false / max(1, t.frames):6.3f}  {ms}")


def _number(traits: dict[str, object], key: str) -> float:
    value = traits[key]
    return float(value) if isinstance(value, (int, float)) else 0.0


BREAKDOWN: tuple[tuple[str, Callable[[dict[str, object]], bool]], ...] = (
    ("640x360", lambda t: t["kind"] == "640x360"),
    ("1280x720", lambda t: t["kind"] == "1280x720"),
    ("24-35 px", lambda t: _number(t, "height") < 36),
    ("36-47 px", lambda t: 36 <= _number(t, "height") < 48),
    ("turned <10", lambda t: abs(_number(t, "angle")) < 10),
    ("10-20", lambda t: 10 <= abs(_number(t, "angle")) < 20),
    ("20-30", lambda t: abs(_number(t, "angle")) >= 20),
    ("blurred", lambda t: bool(t["blur"])),
    ("dim", lambda t: bool(t["dim"])),
    ("half covered", lambda t: bool(t["cover"])),
    ("none of these", lambda t: not (t["blur"] or t["dim"] or t["cover"])),
)


def breakdown(label: str, tally: Tally) -> str:
    """Recall of the generated faces >= 24 px by how they were made: where the misses are."""
    cells = []
    for name, test in BREAKDOWN:
        picked = [found for traits, found in tally.outcomes if test(traits)]
        cells.append(f"{name} {sum(picked)}/{len(picked)}")
    return f"{label:18} " + ", ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=60, help="generated scenes per resolution (default 60)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--all-cores", action="store_true", help="do not pin to core 0")
    parser.add_argument("--save-scenes", type=Path, default=None, help="write a few generated scenes here as PNG")
    parser.add_argument("--detectors", nargs="+", choices=("yunet", "haar", "hog"), default=["yunet", "haar", "hog"],
                        help="which to run (default all; the generated scenes are the same whichever run)")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)

    frames = labelled_frames()
    backgrounds = cartoon_backgrounds()
    real = [Scene(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), boxes, "real") for image, boxes in frames]
    generated = [*generated_scenes(frames, backgrounds, 640, 360, args.scenes, args.seed),
                 *generated_scenes(frames, backgrounds, 1280, 720, args.scenes, args.seed + 1)]
    print(f"real: {len(real)} labelled frames, {sum(len(s.faces) for s in real)} faces; generated: "
          f"{len(generated)} scenes ({args.scenes} at 640x360, {args.scenes} at 1280x720), "
          f"{sum(len(s.faces) for s in generated)} faces; cores: {sorted(os.sched_getaffinity(0))}")

    if args.save_scenes:
        args.save_scenes.mkdir(parents=True, exist_ok=True)
        for i, scene in enumerate(generated[:: max(1, len(generated) // 8)]):
            image = cv2.cvtColor(scene.gray, cv2.COLOR_GRAY2BGR)
            for x1, y1, x2, y2 in scene.faces.astype(int):
                cv2.rectangle(image, (x1, y1), (x2, y2), (0, 255, 0), 1)
            cv2.imwrite(str(args.save_scenes / f"scene{i}.png"), image)

    detectors: list[tuple[str, Callable[[np.ndarray], Detections]]] = []
    rolling: Callable[[np.ndarray], Detections] | None = None
    yunet = None
    if "yunet" in args.detectors:
        try:
            from edge.detection.yunet import YuNetFaceDetector

            yunet = YuNetFaceDetector()
            detectors.append(("yunet", yunet.detect_complete))
            rolling = yunet.detect
        except Exception as error:  # the benchmark still compares the others
            print(f"yunet skipped: {error}")
    if "haar" in args.detectors:
        detectors.append(("haar w320", HaarFaceDetector(HaarSettings(detect_width=320)).detect))
        detectors.append(("haar full", HaarFaceDetector(HaarSettings(detect_width=100_000)).detect))
    if "hog" in args.detectors:
        try:
            from edge.detection.hog import HogFaceDetector

            detectors.append(("hog w320", HogFaceDetector(detect_width=320).detect))
            detectors.append(("hog full", HogFaceDetector(detect_width=100_000).detect))
        except ValueError as error:
            print(f"hog skipped: {error}")

    sizes = "  ".join(f"{f'{lo}-{hi - 1}' if hi < 10_000 else f'{lo}+':>6}" for lo, hi in BUCKETS)
    header = (f"{'detector':18} {'recall by face height (px)':^{len(sizes)}}   {'>=24':>6}   "
              f"{'precision by detected height':^{len(sizes)}}   {'all':>6}  {'FP/fr':>6}  {'ms/frame':^15}")
    results = {label: (evaluate(detect, real), evaluate(detect, generated)) for label, detect in detectors}
    for title, pick in (("real footage", 0), ("generated scenes", 1), ("all", None)):
        print(f"\n-- {title}")
        print(header)
        print(f"{'':18} {sizes}   {'':6}   {sizes}   {'':6}  {'':6}  {'640x360':>7} {'1280x720':>7}")
        for label, parts in results.items():
            print(row(label, combined(list(parts)) if pick is None else parts[pick]))
    print("\n-- generated faces >= 24 px found, by how they were made")
    for label, parts in results.items():
        print(breakdown(label, parts[1]))
    if rolling is not None and yunet is not None:
        for width, height in ((640, 360), (1280, 720)):
            plan = yunet.plan(width, height)
            print(f"yunet at {width}x{height}: {len(plan.items)} tiles in rotation (finest scale "
                  f"{max(i.search.factor for i in plan.items):.2f}, turned +-{yunet.settings.turn_degrees:g} "
                  f"degrees up "
                  f"to scale {max([0.0, *(i.search.factor for i in plan.items if i.search.angle)]):.2f}), one every "
                  f"{yunet.settings.tile_every} full searches")
        times: dict[str, list[float]] = {kind: [] for kind in ("640x360", "1280x720")}
        for scene in generated:
            start = time.process_time()
            rolling(scene.gray)
            times[scene.kind].append(time.process_time() - start)
        print("\nyunet, a full search as the pipeline runs it (coarse pass, and one tile every 2nd search), "
              "mean ms: " + ", ".join(f"{k} {1000 * float(np.mean(v)):.1f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
