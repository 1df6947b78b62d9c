"""Scores, band and gaps of one set of answers (pure functions).

* indicators and capabilities: mean rating (1–5), and as a percentage
  ``(Σ ratings − n) / (4 n) × 100`` (all 1s → 0 %, all 5s → 100 %);
* questions: number of yes answers, and ``yes / 11 × 100``;
* overall: the mean of the three percentages; band ``lagging`` below
  ``cutoffs.average``, ``average`` below ``cutoffs.leading``, else ``leading``
  (decided on the unrounded overall; shown rounded to one decimal);
* gaps: ratings ≤ ``gap_max_rating`` and every "no".
"""

from __future__ import annotations

from typing import Any

from .questionnaire import PARTS, items
from .settings import Settings


def part_percent(part: str, answers: dict[str, Any]) -> float:
    """A part's score as a percentage (0–100), unrounded."""
    keys = [i.key for i in items(part)]
    if part == "questions":
        return sum(bool(answers[k]) for k in keys) / len(keys) * 100
    return (sum(answers[k] for k in keys) - len(keys)) / (4 * len(keys)) * 100


def band(overall: float, settings: Settings) -> str:
    """``lagging``, ``average`` or ``leading`` for an overall score."""
    if overall < settings.average_from:
        return "lagging"
    if overall < settings.leading_from:
        return "average"
    return "leading"


def score(answers: dict[str, dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Per-part scores, overall score and band."""
    result: dict[str, Any] = {}
    percents = []
    for part in PARTS:
        values = answers[part]
        percent = part_percent(part, values)
        percents.append(percent)
        keys = [i.key for i in items(part)]
        if part == "questions":
            result[part] = {"yes": sum(bool(values[k]) for k in keys), "of": len(keys),
                            "percent": round(percent, 1)}
        else:
            result[part] = {"mean": round(sum(values[k] for k in keys) / len(keys), 2),
                            "percent": round(percent, 1)}
    overall = sum(percents) / len(percents)
    result["overall"] = round(overall, 1)
    result["band"] = band(overall, settings)
    return result


def gaps(answers: dict[str, dict[str, Any]], gap_max_rating: int,
         modules: dict[str, str]) -> list[dict[str, Any]]:
    """Every gap: the item, the answer, and the module that addresses it."""
    found = []
    for part in PARTS:
        for item in items(part):
            answer = answers[part][item.key]
            weak = (answer is False) if part == "questions" else answer <= gap_max_rating
            if weak:
                found.append({"part": part, "item": item.key, "wording": item.wording,
                              "answer": answer, "module": modules.get(item.key, item.module)})
    return found
