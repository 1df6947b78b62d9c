"""What the database shows beside the answers.

Each finding is ``{"text": …, "supports": True | False | None}``: ``supports``
says whether the data backs a positive answer (None: informative only).

* preferred_channel_known — share of customers (not erased) with a preferred
  channel; supports when ≥ ``preferred_channel_min_share``;
* clv_assessed — analytical ``last_clv_run()``; supports when within
  ``clv_max_age_days``; without a run, says why CLV cannot be computed
  (``clv_missing``) if so;
* segmented_several_ways, information_for_sales_marketing — analytical
  ``segment_names()``; supports with ≥ ``min_segments``;
* loyal_rewarded — the loyalty plugin enabled with an active programme;
* information_asset — share of customers with an email or phone (and the idic
  identification rate when idic is enabled);
* strategy_matched_to_value, profit_per_customer — idic's last differentiation
  (and, when it had no predicted CLV, why: its ``clv_missing``);
* campaign_return_measured — idic treatments with a holdout;
* customer_centred_culture, management_backing — valuechain's latest
  leadership-and-culture rating (≥ 4 supports, ≤ 2 contradicts);
* expectations_met, experience_managed — survey responses in the last 365 days;
* every_contact — interactions recorded in the last 90 days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from crmkit.plugin import customers, interactions

from .settings import Settings


def _finding(text: str, supports: bool | None = None) -> dict[str, Any]:
    return {"text": text, "supports": supports}


def _enabled(crm, name: str) -> bool:
    return name in crm.enabled_plugins()


def _customer_shares(conn) -> tuple[int, int, int]:
    c = customers.c
    total, channel, contact = conn.execute(select(
        func.count(),
        func.coalesce(func.sum(case((and_(c.preferred_channel.is_not(None),
                                          c.preferred_channel != ""), 1), else_=0)), 0),
        func.coalesce(func.sum(case((or_(and_(c.email.is_not(None), c.email != ""),
                                         and_(c.phone.is_not(None), c.phone != "")), 1),
                                    else_=0)), 0),
    ).where(c.erased_at.is_(None))).one()
    return int(total), int(channel), int(contact)


def _count_interactions(conn, as_of: dt.datetime, days: int, kind: str | None = None) -> int:
    query = select(func.count()).select_from(interactions).where(
        interactions.c.occurred_at > as_of - dt.timedelta(days=days),
        interactions.c.occurred_at <= as_of)
    if kind is not None:
        query = query.where(interactions.c.kind == kind)
    return int(conn.execute(query).scalar_one())


def gather(crm, settings: Settings, as_of: dt.datetime) -> dict[str, dict[str, Any]]:
    """Evidence per item key (items without evidence are absent)."""
    found: dict[str, dict[str, Any]] = {}
    with crm.read() as conn:
        total, channel, contact = _customer_shares(conn)
        surveys = _count_interactions(conn, as_of, 365, "survey")
        recent = _count_interactions(conn, as_of, 90)
    if total:
        share = channel / total
        found["preferred_channel_known"] = _finding(
            f"preferred channel recorded for {share:.0%} of {total} customers",
            share >= settings.preferred_channel_min_share)
        text = f"{contact / total:.0%} of customers have an email or phone"
        if _enabled(crm, "idic"):
            rate = crm.plugin("idic").identification_rate(as_of)
            text += f"; {rate.rate:.0%} of interactions come from identified customers"
        found["information_asset"] = _finding(text)
    else:
        found["preferred_channel_known"] = _finding("no customers recorded", False)
    found["expectations_met"] = found["experience_managed"] = _finding(
        f"{surveys} survey responses in the last 365 days")
    found["every_contact"] = _finding(f"{recent} interactions recorded in the last 90 days")
    for key, finding in _plugin_findings(crm, settings, as_of).items():
        found[key] = finding
    return found


def _plugin_findings(crm, settings: Settings, as_of: dt.datetime) -> dict[str, dict]:
    found: dict[str, dict] = {}

    def analytical() -> None:
        if not _enabled(crm, "analytical"):
            found["clv_assessed"] = _finding("analytical plugin not enabled: no CLV computed", False)
            found["segmented_several_ways"] = _finding(
                "analytical plugin not enabled: no saved segments", False)
            return
        api = crm.plugin("analytical")
        last = api.last_clv_run()
        if last is None:
            missing = api.clv_missing(as_of)
            found["clv_assessed"] = _finding(
                "CLV never computed" + (f"; it cannot be computed now: {missing}" if missing else ""),
                False)
        else:
            age = (as_of - last).days
            found["clv_assessed"] = _finding(f"CLV last computed {last:%Y-%m-%d} ({age} days ago)",
                                             age <= settings.clv_max_age_days)
        names = api.segment_names()
        segmented = _finding(f"{len(names)} saved segments" + (f": {', '.join(names[:8])}"
                                                               if names else ""),
                             len(names) >= settings.min_segments)
        found["segmented_several_ways"] = segmented
        found["information_for_sales_marketing"] = segmented

    def loyalty() -> None:
        if not _enabled(crm, "loyalty"):
            found["loyal_rewarded"] = _finding("loyalty plugin not enabled", False)
            return
        active = crm.plugin("loyalty").is_enabled_program()
        found["loyal_rewarded"] = _finding(
            "loyalty programme active" if active else "loyalty plugin enabled, programme inactive",
            bool(active))

    def idic() -> None:
        if not _enabled(crm, "idic"):
            return
        api = crm.plugin("idic")
        last = api.last_differentiation()
        text = (f"customers last differentiated by value on {last:%Y-%m-%d}" if last
                else "customers never differentiated by value")
        found["strategy_matched_to_value"] = _finding(text, last is not None)
        missing = api.differentiation_run()["clv_missing"] if last else None
        found["profit_per_customer"] = _finding(
            text + (f" (current value and cost to serve per customer; no predicted CLV: {missing})"
                    if missing else " (current value, predicted CLV and cost to serve per customer)"),
            last is not None)
        measured = [t for t in api.treatments() if t.holdout_share > 0]
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
