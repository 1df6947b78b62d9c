"""Supporting conditions of the value chain, rated 1–5; the latest rating of each counts.

The weakest condition is the one with the lowest latest rating (ties: in the
order leadership_culture, data_it, people, processes); conditions never rated
are listed as unrated, never guessed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import func, insert, select

from crmkit.plugin import ValidationError

from .network import optional_text
from .tables import ratings

CONDITIONS = ("leadership_culture", "data_it", "people", "processes")
LABELS = {"leadership_culture": "leadership and culture", "data_it": "data and IT",
          "people": "people", "processes": "processes"}


def rate(tx, condition: str, rating: int, note: str | None = None) -> None:
    """Record a rating (1–5) of a supporting condition; audited."""
    if condition not in CONDITIONS:
        raise ValidationError(f"condition: {condition!r} is not one of {', '.join(CONDITIONS)}")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError(f"rating: {rating!r} is not a whole number from 1 to 5")
    optional_text(tx, note, "note", 1000)
    tx.conn.execute(insert(ratings).values(condition=condition, rating=rating, note=note,
                                           rated_at=tx.now(), rated_by=tx.actor))
    tx.context("valuechain").audit("rate", "valuechain_ratings", condition, {"rating": rating})


@attrs.frozen
class Conditions:
    """Latest ratings, the weakest rated condition, and the unrated ones."""

    ratings: dict[str, int | None]
    weakest: str | None
    unrated: list[str]


def latest(conn, as_of: dt.datetime) -> Conditions:
    """The latest rating of each condition at or before as-of."""
    last = (select(ratings.c.condition, func.max(ratings.c.id).label("id"))
            .where(ratings.c.rated_at <= as_of).group_by(ratings.c.condition).subquery())
    found = dict(conn.execute(select(ratings.c.condition, ratings.c.rating)
                              .join(last, last.c.id == ratings.c.id)).all())
    current: dict[str, Any] = {c: found.get(c) for c in CONDITIONS}
    rated = [c for c in CONDITIONS if current[c] is not None]
    weakest = min(rated, key=lambda c: (current[c], CONDITIONS.index(c))) if rated else None
    return Conditions(current, weakest, [c for c in CONDITIONS if current[c] is None])
