"""`moodlens label review`: the doubtful labels, one at a time, in the terminal: accept, fix or skip.

Only when asked (`--show-faces`, ``read_image`` given) is the crop drawn in the terminal, with
half-block characters (two grey pixels per character cell): a 32x32 grey copy of the face then sits
in the terminal's scrollback and in any recording of the session, which is why it is not the
default. Without it the operator decides from the reasons and scores. Each decision is appended to
the manifest at once (with ``human-annotated: yes``), so a review can stop and resume; a crop that is
already in the manifest is not asked about again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from schemas.expressions import EXPRESSIONS
from training.labeling.rekognition import JOB_NAME, already_done

HELP = "a = accept  0-6 or a class name = fix  s = skip  q = quit"


def pending(review: Path, manifest: Path) -> list[dict[str, Any]]:
    done = already_done(manifest)
    items = []
    if review.exists():
        for number, line in enumerate(review.read_text().splitlines(), 1):
            if line.strip():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{review}:{number}: not JSON ({error.msg})") from None
                if item.get("crop-id") not in done:
                    items.append(item)
    return items


def parse_answer(answer: str, suggested: str | None) -> str | None:
    """The class chosen, "skip", "quit", or None when the answer means nothing."""
    answer = answer.strip().lower()
    if answer in {"s", "skip"}:
        return "skip"
    if answer in {"q", "quit"}:
        return "quit"
    if answer in {"a", "accept"}:
        return suggested
    if answer.isdigit() and int(answer) < len(EXPRESSIONS):
        return EXPRESSIONS[int(answer)]
    return answer if answer in EXPRESSIONS else None


def render_gray(image: np.ndarray, width: int = 32) -> str:
    """A grey image as ANSI half blocks: each character is two pixels stacked (fg top, bg bottom)."""
    import cv2

    height = max(2, round(image.shape[0] * width / image.shape[1] / 2) * 2)
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    rows = []
    for y in range(0, height, 2):
        cells = [f"\x1b[38;2;{t};{t};{t}m\x1b[48;2;{b};{b};{b}m\u2580"
                 for t, b in zip(small[y].tolist(), small[y + 1].tolist(), strict=True)]
        rows.append("".join(cells) + "\x1b[0m")
    return "\n".join(rows)


def review(items: list[dict[str, Any]], manifest: Path, read_image: Callable[[str], np.ndarray | None] | None,
           ask: Callable[[str], str], out: TextIO) -> dict[str, int]:
    counts = {"accepted": 0, "fixed": 0, "skipped": 0}
    with manifest.open("a") as good:
        for index, item in enumerate(items, 1):
            suggested = item.get("expression-metadata", {}).get("class-name")
            out.write(f"\n[{index}/{len(items)}] crop {item['crop-id']} camera {item.get('camera-id')} "
                      f"day {item.get('day')}\n")
            if read_image is None:
                out.write("  (face not drawn; --show-faces draws it here)\n")
            elif (image := read_image(item["crop-id"])) is not None:
                out.write(render_gray(image) + "\n")
            for reason in item.get("review-reasons", []):
                out.write(f"  why: {reason}\n")
            soft = item.get("expression-soft", {})
            out.write("  " + "  ".join(f"{i}:{name} {soft.get(name, 0):.2f}" for i, name in enumerate(EXPRESSIONS))
                      + "\n")
            while (choice := parse_answer(ask(f"  suggested {suggested or '-'}; {HELP} > "), suggested)) is None:
                out.write("  not understood\n")
            if choice == "quit":
                break
            if choice == "skip":
                counts["skipped"] += 1
                continue
            counts["accepted" if choice == suggested else "fixed"] += 1
            good.write(json.dumps(human_label(item, choice)) + "\n")
            good.flush()
            os.fsync(good.fileno())
    return counts


def human_label(item: dict[str, Any], choice: str) -> dict[str, Any]:
    line = {key: value for key, value in item.items() if key != "review-reasons"}
    line["expression"] = EXPRESSIONS.index(choice)
    line["expression-metadata"] = {
        "class-name": choice, "confidence": 1.0, "type": "groundtruth/image-classification",
        "job-name": JOB_NAME, "human-annotated": "yes",
        "creation-date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }
    if choice != item.get("expression-metadata", {}).get("class-name"):
        line["expression-soft"] = {name: float(name == choice) for name in EXPRESSIONS}
    return line
