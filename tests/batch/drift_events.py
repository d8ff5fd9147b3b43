"""Synthetic camera-days of face events for the drift tests (a chosen top-class mix per day)."""

import json

import numpy as np

from batch.drift import Baseline
from edge.expression.classifier import DEFAULT_MODEL
from schemas.expressions import EXPRESSIONS
from tests.schemas.events import EVENT_TIME_MS, face_expression

DAY_MS = 86_400_000
BASELINE = Baseline.from_card(json.loads(DEFAULT_MODEL.with_suffix(".json").read_text()))


def day_of_faces(rng, day, camera, shares, n=400, usable_share=0.9, confidence=0.7):
    events = []
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    for i in range(n):
        top = EXPRESSIONS[rng.choice(len(EXPRESSIONS), p=shares)]
        rest = (1 - confidence) / (len(EXPRESSIONS) - 1)
        probabilities = {name: (confidence if name == top else rest) for name in EXPRESSIONS}
        usable = bool(rng.random() < usable_share)
        events.append(face_expression(
            camera_id=camera, track_id=f"t{day}-{i}", event_time_ms=EVENT_TIME_MS + day * DAY_MS + i * 1000,
            probabilities=probabilities, top_class=top,
            quality={"face_px": 90, "sharpness": 100.0, "brightness": 120.0, "usable": usable}))
    return events
