"""What the database shows beside the answers, at the assessment's as-of.

Each finding is ``{"text": …, "supports": True | False | None}``: ``supports``
says whether the data backs a positive answer (None: informative only, or not
known at the as-of).  Only what existed at the as-of counts:

* preferred_channel_known — share of the customers created by the as-of and not
  erased by then with a preferred channel; the fields of a customer changed (or
  erased) since are not kept as they were, so such customers make the share a
  range; supports when the whole range is ≥ ``preferred_channel_min_share``,
  contradicts when it is all below;
* clv_assessed — analytical ``last_clv_run(as_of)``; supports when within
  ``clv_max_age_days`` (never when after the as-of); without a run, says why CLV
  cannot be computed (``clv_missing``) if so;
* segmented_several_ways, information_for_sales_marketing — analytical
  ``segment_names(as_of)``; supports with ≥ ``min_segments``;
* loyal_rewarded — the loyalty plugin enabled with an active programme;
* information_asset — share of customers with an email or phone (a range as
  above; and the idic identification rate when idic is enabled);
* strategy_matched_to_value, profit_per_customer — idic's latest differentiation
  run at or before the as-of (and, when it had no predicted CLV, why: its
  ``clv_missing``);
* campaign_return_measured — idic treatments with a holdout started by the as-of;
* customer_centred_culture, management_backing — valuechain's latest
  leadership-and-culture rating (≥ 4 supports, ≤ 2 contradicts);
* expectations_met, experience_managed — survey responses in the 365 days to the as-of;
* every_contact — interactions recorded in the 90 days to the as-of.

Which plugins are enabled and whether the loyalty programme is active are known
only as they are now: for an earlier as-of those findings say so and support
nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import and_, case, func, or_, select

from crmkit.plugin import customers, interactions

from .settings import Settings


def _finding(text: str, supports: bool | None = None) -> dict[str, Any]:
    return {"text": text, "supports": supports}


def _as_now(finding: dict[str, Any], past: bool) -> dict[str, Any]:
    """A finding about the present state (no history kept): for an earlier as-of it says
    so and supports nothing."""
    if not past:
        return finding
    return _finding(finding["text"] + " (as it is now; not kept for earlier dates)")


def _enabled(crm, name: str) -> bool:
    return name in crm.enabled_plugins()


@attrs.frozen
class _Customers:
    """The customers known at the as-of: created by then and not erased by then."""

    total: int
    changed: int
    """Changed or erased since the as-of: their fields then are not kept."""
    channel: int
    """Unchanged since, with a preferred channel."""
    contact: int
    """Unchanged since, with an email or phone."""

    def _range(self, known: int) -> tuple[float, float]:
        return known / self.total, (known + self.changed) / self.total

    def share(self, known: int) -> str:
        """The share ``known`` unchanged customers make of the total as a percentage, or
        the range it lies in when the changed ones may or may not have counted."""
        low, high = self._range(known)
        return f"{low:.0%}" if not self.changed else f"{low:.0%} to {high:.0%}"

    def at_least(self, known: int, minimum: float) -> bool | None:
        """Whether the share is at least ``minimum`` (None: the range lies on both sides)."""
        low, high = self._range(known)
        return True if low >= minimum else False if high < minimum else None

    def note(self) -> str:
        """What a range is owed to (empty when nothing changed)."""
        return (f" ({self.changed} changed since: their values then are not kept)"
                if self.changed else "")


def _customers(conn, as_of: dt.datetime) -> _Customers:
    c = customers.c
    unchanged = c.updated_at <= as_of

    def count(*conditions):
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    row = conn.execute(select(
        func.count(),
        count(~unchanged),
        count(unchanged, c.preferred_channel.is_not(None), c.preferred_channel != ""),
        count(unchanged, or_(and_(c.email.is_not(None), c.email != ""),
                             and_(c.phone.is_not(None), c.phone != ""))),
    ).where(c.created_at <= as_of, or_(c.erased_at.is_(None), c.erased_at > as_of))).one()
    return _Customers(*(int(n) for n in row))


def _count_interactions(conn, as_of: dt.datetime, days: int, kind: str | None = None) -> int:
    query = select(func.count()).select_from(interactions).where(
        interactions.c.occurred_at > as_of - dt.timedelta(days=days),
        interactions.c.occurred_at <= as_of)
    if kind is not None:
        query = query.where(interactions.c.kind == kind)
    return int(conn.execute(query).scalar_one())


def gather(crm, settings: Settings, as_of: dt.datetime, past: bool
           ) -> dict[str, dict[str, Any]]:
    """Evidence per item key (items without evidence are absent); ``past``: the as-of is
    before now, so what is known only as it is now supports nothing."""
    found: dict[str, dict[str, Any]] = {}
    with crm.read() as conn:
        known = _customers(conn, as_of)
        surveys = _count_interactions(conn, as_of, 365, "survey")
        recent = _count_interactions(conn, as_of, 90)
    if known.total:
        found["preferred_channel_known"] = _finding(
            f"preferred channel recorded for {known.share(known.channel)} of {known.total} "
            f"customers{known.note()}",
            known.at_least(known.channel, settings.preferred_channel_min_share))
        text = f"{known.share(known.contact)} of customers have an email or phone{known.note()}"
        if _enabled(crm, "idic"):
            rate = crm.plugin("idic").identification_rate(as_of)
            text += f"; {rate.rate:.0%} of interactions come from identified customers"
        found["information_asset"] = _finding(text)
    else:
        found["preferred_channel_known"] = _finding("no customers recorded", False)
    found["expectations_met"] = found["experience_managed"] = _finding(
        f"{surveys} survey responses in the last 365 days")
    found["every_contact"] = _finding(f"{recent} interactions recorded in the last 90 days")
    for key, finding in _plugin_findings(crm, settings, as_of, past).items():
        found[key] = finding
    return found


def _plugin_findings(crm, settings: Settings, as_of: dt.datetime, past: bool
                     ) -> dict[str, dict]:
    found: dict[str, dict] = {}

    def analytical() -> None:
        if not _enabled(crm, "analytical"):
            found["clv_assessed"] = _as_now(
                _finding("analytical plugin not enabled: no CLV computed", False), past)
            found["segmented_several_ways"] = _as_now(
                _finding("analytical plugin not enabled: no saved segments", False), past)
            return
        api = crm.plugin("analytical")
        last = api.last_clv_run(as_of=as_of)
        if last is None:
            missing = api.clv_missing(as_of)
            found["clv_assessed"] = _finding(
                "CLV never computed" + (f"; it cannot be computed now: {missing}" if missing else ""),
                False)
        else:
            age = (as_of - last).days
            found["clv_assessed"] = _finding(
                f"CLV last computed {last:%Y-%m-%d} "
                + (f"({age} days ago)" if age >= 0 else "(after the as-of)"),
                0 <= age <= settings.clv_max_age_days)
        names = api.segment_names(as_of=as_of)
        segmented = _finding(f"{len(names)} saved segments" + (f": {', '.join(names[:8])}"
                                                               if names else ""),
                             len(names) >= settings.min_segments)
        found["segmented_several_ways"] = segmented
        found["information_for_sales_marketing"] = segmented

    def loyalty() -> None:
        if not _enabled(crm, "loyalty"):
            found["loyal_rewarded"] = _as_now(_finding("loyalty plugin not enabled", False), past)
            return
        active = crm.plugin("loyalty").is_enabled_program()
        found["loyal_rewarded"] = _as_now(_finding(
            "loyalty programme active" if active else "loyalty plugin enabled, programme inactive",
            bool(active)), past)

    def idic() -> None:
        if not _enabled(crm, "idic"):
            return
        api = crm.plugin("idic")
        run = api.differentiation_run(as_of)
        text = (f"customers last differentiated by value on {run['as_of']:%Y-%m-%d}" if run
                else "customers never differentiated by value")
        found["strategy_matched_to_value"] = _finding(text, run is not None)
        missing = run["clv_missing"] if run else None
        found["profit_per_customer"] = _finding(
            text + (f" (current value and cost to serve per customer; no predicted CLV: {missing})"
                    if missing else " (current value, predicted CLV and cost to serve per customer)"),
            run is not None)
        measured = [t for t in api.treatments() if t.holdout_share > 0 and t.start <= as_of]
        found["campaign_return_measured"] = _finding(
            f"{len(measured)} treatments with a holdout group", bool(measured))

    def valuechain() -> None:
        if not _enabled(crm, "valuechain"):
            return
        rating = crm.plugin("valuechain").conditions(as_of).ratings.get("leadership_culture")
        if rating is None:
            text, supports = "leadership and culture not rated in the value chain", None
        else:
            text = f"leadership and culture rated {rating}/5 in the value chain"
            supports = True if rating >= 4 else False if rating <= 2 else None
        found["customer_centred_culture"] = _finding(text, supports)
        found["management_backing"] = _finding(text, supports)

    analytical()
    loyalty()
    idic()
    valuechain()
    return found
