"""Customer-perceived value: perceived benefit against perceived cost, from survey items.

A respondent's benefit is the mean of their latest answers (0–100 on each item's scale,
see :mod:`surveys`) to the items in ``perceived_value.benefit`` (quality, service, …), their
cost the mean for ``perceived_value.cost`` (price, effort, …), over the surveys of the last
``perceived_value.window_days`` (365) days.  A group's benefit and cost are the means over
its respondents who answered them, and its net value is benefit − cost.  Groups: every
respondent (``all``) and each saved segment's members.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crmkit.plugin import ConfigError

from . import segments, surveys
from .results import PerceivedValue
from .tables import segments as S

if TYPE_CHECKING:
    from .settings import Settings

SIDES = ("benefit", "cost")


def respondents(conn, settings: Settings, as_of: dt.datetime
                ) -> dict[int, dict[str, float]]:
    """``{customer id: {"benefit": …, "cost": …}}`` of every respondent (a side missing
    when they answered none of its items)."""
    rules = settings.perceived_value
    if not rules.benefit or not rules.cost:
        raise ConfigError("/perceived_value: name the survey items of both benefit and cost "
                          "(e.g. {\"benefit\": [\"pv_quality\"], \"cost\": [\"pv_price\"]})")
    found: dict[int, dict[str, float]] = {}
    for side in SIDES:
        latest = surveys.latest_scores(settings, rules.items(side), as_of,
                                       rules.window_days).subquery(f"pv_{side}")
        query = (select(latest.c.customer_id, func.avg(latest.c.score))
                 .group_by(latest.c.customer_id))
        for customer, score in conn.execute(query):
            found.setdefault(customer, {})[side] = float(score)
    return found


def group(name: str, answers: list[dict[str, float]]) -> PerceivedValue:
    """The means of one group's respondents."""
    means = {}
    for side in SIDES:
        given = [a[side] for a in answers if side in a]
        means[side] = round(sum(given) / len(given), 2) if given else None
    net = (None if None in means.values()
           else round(means["benefit"] - means["cost"], 2))
    return PerceivedValue(name, len(answers), means["benefit"], means["cost"], net)


def by_segment(conn, settings: Settings, as_of: dt.datetime) -> list[PerceivedValue]:
    """Every respondent (``all``), then each saved segment's respondents, by segment name."""
    found = respondents(conn, settings, as_of)
    rows = [group("all", list(found.values()))]
    for name, condition in conn.execute(select(S.c.name, S.c.condition).order_by(S.c.name)):
        members = segments.members(conn, settings, condition, as_of)
        rows.append(group(name, [found[m] for m in members if m in found]))
    return rows


__all__ = ["respondents", "group", "by_segment", "SIDES"]
