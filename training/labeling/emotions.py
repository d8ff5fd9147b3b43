"""Rekognition's emotions mapped onto moodlens's seven classes, as a soft label.

DetectFaces returns a confidence (0-100) for each of HAPPY, SAD, ANGRY, CONFUSED, DISGUSTED,
SURPRISED, CALM, FEAR and UNKNOWN. Seven of them have a FER2013 counterpart:

    HAPPY -> happy     SAD -> sad           ANGRY -> angry     DISGUSTED -> disgust
    SURPRISED -> surprise                   FEAR -> fear       CALM -> neutral

CONFUSED and UNKNOWN have none (FER2013 has no "confused"; folding it into neutral or surprise would
invent a label the annotator did not give). Their mass is set aside as ``unmapped`` and the seven
mapped confidences are renormalised, so the soft label keeps Rekognition's relative confidences
between the classes we train on. A face whose mass is mostly unmapped is not forced into a class:
it goes to the review list (`training.labeling.review`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.expressions import EXPRESSIONS

REKOGNITION_TO_CLASS: Mapping[str, str] = {
    "HAPPY": "happy", "SAD": "sad", "ANGRY": "angry", "DISGUSTED": "disgust",
    "SURPRISED": "surprise", "FEAR": "fear", "CALM": "neutral",
}
UNMAPPED: frozenset[str] = frozenset({"CONFUSED", "UNKNOWN"})


@dataclass(frozen=True)
class SoftLabel:
    probabilities: tuple[float, ...]  # in EXPRESSIONS order, sums to 1
    unmapped: float  # share of Rekognition's confidence on CONFUSED/UNKNOWN, 0..1

    @property
    def top_class(self) -> str:
        return EXPRESSIONS[max(range(len(EXPRESSIONS)), key=lambda i: self.probabilities[i])]

    @property
    def top_probability(self) -> float:
        return max(self.probabilities)


def soft_label(emotions: Sequence[Mapping[str, object]]) -> SoftLabel | None:
    """The soft label of one face's ``Emotions`` list; None when nothing maps (all unmapped or empty)."""
    mapped = dict.fromkeys(EXPRESSIONS, 0.0)
    unmapped = 0.0
    for emotion in emotions:
        name, confidence = str(emotion.get("Type", "")), emotion.get("Confidence", 0.0)
        if not isinstance(confidence, int | float) or isinstance(confidence, bool) or confidence < 0:
            raise ValueError(f"Emotions: confidence of {name or '?'} must be a non-negative number, got {confidence!r}")
        if name in REKOGNITION_TO_CLASS:
            mapped[REKOGNITION_TO_CLASS[name]] += float(confidence)
        elif name in UNMAPPED:
            unmapped += float(confidence)
        else:
            raise ValueError(f"Emotions: unknown emotion type {name!r}")
    total = sum(mapped.values())
    if total <= 0:
        return None
    return SoftLabel(tuple(mapped[name] / total for name in EXPRESSIONS), unmapped / (total + unmapped))
