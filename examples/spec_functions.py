"""Functions for the two DAGit seed workflows in ``examples/specs/``.

Each takes keyword arguments (the trigger arguments overlaid by its ``outputs_from``
nodes' outputs) and returns a JSON-able dict. ``text-sentiment-analysis`` takes the
trigger's ``text`` (or ``sentences``); ``filling-a-glass-of-water`` starts from the
trigger's ``quantity`` (default 0) and pours ``step`` ml (default 250) per pass.
"""

from __future__ import annotations

import re

# A tiny polarity lexicon: enough to score simple sentences honestly.
POSITIVE = {
    "good",
    "great",
    "excellent",
    "happy",
    "love",
    "like",
    "wonderful",
    "fast",
    "nice",
    "best",
    "enjoy",
    "clear",
    "helpful",
}
NEGATIVE = {
    "bad",
    "terrible",
    "awful",
    "sad",
    "hate",
    "slow",
    "poor",
    "worst",
    "broken",
    "angry",
    "confusing",
    "useless",
}
NEGATIONS = {"not", "never", "no", "n't"}


def fetch_sentences(text: str = "", sentences: list[str] | None = None, **_: object) -> dict:
    """Split the trigger's ``text`` (or take its ``sentences``) into sentences."""
    if sentences is None:
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return {"sentences": sentences}


def _polarity(sentence: str) -> float:
    words = re.findall(r"[a-z']+", sentence.lower())
    score, flip = 0, False
    for word in words:
        if word in NEGATIONS or word.endswith("n't"):
            flip = True
            continue
        value = (word in POSITIVE) - (word in NEGATIVE)
        score += -value if flip else value
        if value:
            flip = False
    return max(-1.0, min(1.0, score / 3))


def calculate_sentiment(sentences: list[str], **_: object) -> dict:
    """A polarity in [-1, 1] per sentence."""
    return {"polarity": [_polarity(s) for s in sentences]}


def create_sentiment_report(sentences: list[str], polarity: list[float], **_: object) -> dict:
    """Pair sentences with their polarity and a label; summarise."""
    rows = [
        {
            "sentence": s,
            "polarity": p,
            "label": "positive" if p > 0 else "negative" if p < 0 else "neutral",
        }
        for s, p in zip(sentences, polarity, strict=True)
    ]
    mean = sum(polarity) / len(polarity) if polarity else 0.0
    return {"report": rows, "mean_polarity": mean}


def check_if_full(quantity: float = 0, **_: object) -> dict:
    """Report the current quantity; the spec's condition compares it with the target."""
    return {"quantity": quantity}


def add_water(quantity: float = 0, step: float = 250, **_: object) -> dict:
    """Pour ``step`` ml more."""
    return {"quantity": quantity + step}


def glass_full(quantity: float = 0, **_: object) -> dict:
    """The end of the loop: say how full the glass is."""
    return {"message": f"glass full at {quantity} ml", "quantity": quantity}
