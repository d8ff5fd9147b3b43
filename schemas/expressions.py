"""The seven expression classes and what they mean for sentiment."""

from __future__ import annotations

EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Valence per class on [-1, 1], after the circumplex placement of basic emotions (Russell 1980):
# happy is clearly pleasant, the negative emotions unpleasant to different degrees, surprise
# slightly pleasant on average, neutral zero. A face's valence is the probability-weighted mean.
VALENCE: dict[str, float] = {
    "angry": -0.8, "disgust": -0.7, "fear": -0.6, "happy": 1.0, "sad": -0.8, "surprise": 0.2,
    "neutral": 0.0,
}
POSITIVE: frozenset[str] = frozenset({"happy"})
NEGATIVE: frozenset[str] = frozenset({"angry", "disgust", "fear", "sad"})


def valence(probabilities: dict[str, float]) -> float:
    """Probability-weighted valence, clipped to [-1, 1] against rounding."""
    value = sum(VALENCE[name] * probabilities[name] for name in EXPRESSIONS)
    return max(-1.0, min(1.0, value))


def top_class(probabilities: dict[str, float]) -> str:
    return max(EXPRESSIONS, key=lambda name: probabilities[name])
