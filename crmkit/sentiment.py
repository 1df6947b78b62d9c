"""The language of a short text and the sentiment analyser for it.

Plugins provide analysers through the ``crmkit_sentiment_analysers`` hook;
anything that scores text (social mentions, survey answers, case
descriptions) asks :func:`score_texts` and never picks a model itself, so a
Chinese text is scored by a Chinese analyser or not at all, never by the
English one.
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol, Sequence

import attrs

from .errors import PluginError

# Letters per script; digits, punctuation, symbols and emoji belong to none and are ignored.
# Han ideographs count as Japanese when the text also has kana.
SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("zh", re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")),
    ("ja", re.compile("[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9d]")),
    ("ko", re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")),
    ("en", re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\uff21-\uff3a\uff41-\uff5a]")),
    ("ru", re.compile("[\u0400-\u04ff]")),
    ("el", re.compile("[\u0370-\u03ff]")),
    ("ar", re.compile("[\u0600-\u06ff\u0750-\u077f]")),
    ("he", re.compile("[\u0590-\u05ff]")),
    ("hi", re.compile("[\u0900-\u097f]")),
    ("th", re.compile("[\u0e00-\u0e7f]")),
)
"""Language code by writing system: Latin letters are taken as English, Cyrillic as Russian."""

NO_TEXT = "no text"
NO_LETTERS = "no letters to tell the language from"


class SentimentAnalyser(Protocol):
    """What ``crmkit_sentiment_analysers`` returns: a scorer for one or more languages."""

    name: str
    """Short name shown to users (``vader``, ``snownlp``)."""
    languages: Sequence[str]
    """Language codes it scores, as :func:`detect_language` returns them (``en``, ``zh``)."""

    def score(self, texts: list[str]) -> list[float]:
        """One score in [-1, 1] per text: -1 most negative, 0 neutral, 1 most positive."""


@attrs.frozen
class Sentiment:
    """The sentiment of one text: a score in [-1, 1], or None with the reason it is unscored."""

    score: float | None
    language: str | None
    analyser: str | None = None
    unscored_reason: str | None = None


def detect_language(text: str | None) -> str | None:
    """The language of a short text by the script most of its letters are written in.

    Exact for Chinese (CJK ideographs) against English (Latin letters); mixed
    text counts as the language with the most letters, so a Chinese complaint
    naming an English brand is Chinese.  Emoji, digits and punctuation do not
    count.  None when the text has no letters.
    """
    if not text:
        return None
    counts = {code: len(pattern.findall(text)) for code, pattern in SCRIPTS}
    if counts["ja"]:
        counts["ja"] += counts.pop("zh")
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else None


def sentiment_analysers(crm) -> dict[str, SentimentAnalyser]:
    """The analyser for each language, from the enabled plugins' ``crmkit_sentiment_analysers``.

    When two plugins handle the same language, the first in calling order wins.
    """
    chosen: dict[str, SentimentAnalyser] = {}
    for _plugin, analysers in crm.hooks.call("crmkit_sentiment_analysers", None):
        for analyser in analysers or ():
            for language in analyser.languages:
                chosen.setdefault(language, analyser)
    return chosen


def score_texts(crm, texts: Sequence[str | None]) -> list[Sentiment]:
    """Score each text with the analyser for its language (one call per language).

    A text with no words, or in a language no enabled plugin's analyser
    handles, comes back with ``score=None`` and ``unscored_reason`` saying why.
    An analyser that fails, returns the wrong number of scores, or a score
    outside [-1, 1] raises one :class:`crmkit.errors.PluginError` naming it.
    """
    return score_with(sentiment_analysers(crm), texts)


def score_with(analysers: dict[str, SentimentAnalyser],
               texts: Sequence[str | None]) -> list[Sentiment]:
    """:func:`score_texts` with the analysers given (from :func:`sentiment_analysers`)."""
    results: list[Sentiment | None] = [None] * len(texts)
    batches: dict[str, list[int]] = {}
    for n, text in enumerate(texts):
        if not text or not text.strip():
            results[n] = Sentiment(None, None, unscored_reason=NO_TEXT)
            continue
        language = detect_language(text)
        if language is None:
            results[n] = Sentiment(None, None, unscored_reason=NO_LETTERS)
        elif language not in analysers:
            results[n] = Sentiment(None, language, unscored_reason=_no_analyser(language, analysers))
        else:
            batches.setdefault(language, []).append(n)
    for language, positions in batches.items():
        analyser = analysers[language]
        try:
            scores = list(analyser.score([texts[n] for n in positions]))
        except Exception as exc:
            raise PluginError(f"sentiment analyser {analyser.name!r} failed: "
                              f"{type(exc).__name__}: {exc}") from exc
        if len(scores) != len(positions):
            raise PluginError(f"sentiment analyser {analyser.name!r} returned {len(scores)} "
                              f"scores for {len(positions)} texts")
        for n, value in zip(positions, scores):
            results[n] = Sentiment(_checked(analyser, value), language, analyser.name)
    return results  # type: ignore[return-value]


def _no_analyser(language: str, analysers: dict[str, Any]) -> str:
    handled = ", ".join(sorted(analysers)) or "none"
    return f"no sentiment analyser for language {language!r} (analysers handle: {handled})"


def _checked(analyser: SentimentAnalyser, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not -1 <= value <= 1:
        raise PluginError(f"sentiment analyser {analyser.name!r} returned {value!r}; "
                          "scores must be numbers from -1 to 1")
    return float(value)


__all__ = ["NO_LETTERS", "NO_TEXT", "Sentiment", "SentimentAnalyser", "detect_language",
           "score_texts", "score_with", "sentiment_analysers"]
