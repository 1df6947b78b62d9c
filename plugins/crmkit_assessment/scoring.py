"""Scores, band and gaps of one set of answers (pure functions).

* indicators and capabilities: mean rating (1–5), and as a percentage
  ``(Σ ratings − n) / (4 n) × 100`` (all 1s → 0 %, all 5s → 100 %);
* questions: number of yes answers, and ``yes / 11 × 100``;
* overall: the mean of the three percentages; band ``lagging`` below
  ``cutoffs.average``, ``average`` below ``cutoffs.leading``, else ``leading``
  (decided on the unrounded overall; shown rounded to one decimal);
* gaps: ratings ≤ ``gap_max_rating`` and every "no", each with its class (technology,
  mindset, process, strategy) and the module that addresses it where software can;
* the band's evidence: lagging, average and leading firms report sales returns of about
  −1 %, 13 % and 33 % from CRM; the next band requires ``cutoffs`` of the next band, and the
  fewest items raised to the top answer that get there (largest gain first).
"""

from __future__ import annotations

from typing import Any

from .questionnaire import ITEMS, PARTS, items
from .settings import Settings

BANDS = ("lagging", "average", "leading")
SALES_RETURN_PERCENT = {"lagging": -1, "average": 13, "leading": 33}
"""The sales return from CRM that firms of each band report, in per cent."""


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
                              "answer": answer, "gap_class": item.gap_class,
                              "module": modules.get(item.key, item.module)})
    return found


def item_gain(part: str, answer: Any) -> float:
    """How many overall points the item adds when raised to the top answer (5, or yes)."""
    count = len(items(part))
    if part == "questions":
        return 0.0 if answer else 100 / count / len(PARTS)
    return (5 - answer) * 100 / (4 * count) / len(PARTS)


def band_evidence(answers: dict[str, dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Which band the answers resemble, the sales return firms of that band report, and what
    the next band requires: its cut-off, the points short, and the fewest items to raise to
    the top answer to get there (largest gain first, questionnaire order on ties)."""
    overall = sum(part_percent(part, answers[part]) for part in PARTS) / len(PARTS)
    current = band(overall, settings)
    result: dict[str, Any] = {"band": current,
                              "sales_return_percent": SALES_RETURN_PERCENT[current],
                              "next": None}
    if current == "leading":
        return result
    following = BANDS[BANDS.index(current) + 1]
    needed = settings.leading_from if following == "leading" else settings.average_from
    candidates = sorted(
        ((item_gain(item.part, answers[item.part][item.key]), order, item)
         for order, item in enumerate(ITEMS)),
        key=lambda entry: (-entry[0], entry[1]))
    raise_items, reached = [], overall
    for gain, _, item in candidates:
        if reached >= needed or gain <= 0:
            break
        reached += gain
        raise_items.append({"item": item.key, "part": item.part, "gap_class": item.gap_class,
                            "gain": round(gain, 2)})
    result["next"] = {"band": following,
                      "sales_return_percent": SALES_RETURN_PERCENT[following],
                      "overall_at_least": needed,
                      "points_short": round(needed - overall, 1),
                      "raise": raise_items}
    return result
