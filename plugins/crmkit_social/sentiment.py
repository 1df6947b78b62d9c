"""Sentiment of a text: VADER's compound score in [-1, 1] and the label the thresholds give it."""

from __future__ import annotations

import functools
from typing import Any

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"


@functools.lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def score(text: str | None) -> float:
    """VADER's compound score of ``text`` (0.0 for no text)."""
    if not text or not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])


def label(value: float, config: dict[str, Any]) -> str:
    """``positive`` at or above ``positive_threshold``, ``negative`` at or below ``negative_threshold``."""
    if value >= config["positive_threshold"]:
        return POSITIVE
    if value <= config["negative_threshold"]:
        return NEGATIVE
    return NEUTRAL


def label_sql(column, config: dict[str, Any]):
    """The same rule as a SQL CASE expression over a score column."""
    from sqlalchemy import case

    return case((column >= config["positive_threshold"], POSITIVE),
                (column <= config["negative_threshold"], NEGATIVE), else_=NEUTRAL)
