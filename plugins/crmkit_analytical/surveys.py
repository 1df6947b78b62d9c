"""Survey scores in interaction payloads: checked on the way in, stored as whole numbers.

A survey interaction (``survey_kinds``) may carry ``nps`` (0–10), ``csat``
(1–5) and ``ces`` (1–7).  A score given as text or as an integral float
(``"9"``, ``9.0``, as CSV imports produce) is stored as the integer; anything
else outside the scale rejects the row naming the field and the allowed range.
"""

from __future__ import annotations

from typing import Any

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def problems(config: dict[str, Any], rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """``(index, field, message)`` for every score outside its scale."""
    kinds = set(config["survey_kinds"])
    found = []
    for index, row in enumerate(rows):
        payload = row.get("payload")
        if row["kind"] not in kinds or not isinstance(payload, dict):
            continue
        for key, (low, high) in SCALES.items():
            value = payload.get(key)
            if value is None:
                continue
            whole = _whole(value)
            if whole is None or not low <= whole <= high:
                found.append((index, f"payload.{key}",
                              f"{value!r} is not a whole number from {low} to {high}"))
    return found


def normalise(config: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Store valid scores as integers (``"9"`` → 9)."""
    kinds = set(config["survey_kinds"])
    for row in rows:
        payload = row.get("payload")
        if row["kind"] not in kinds or not isinstance(payload, dict):
            continue
        changed = {key: _whole(payload[key]) for key in SCALES
                   if payload.get(key) is not None and not isinstance(payload[key], int)}
        if changed:
            row["payload"] = dict(payload, **changed)
