"""A campaign's report: deliveries, responses, revenue, cost, ROI and uplift over the holdout.

Counts, as of a moment (``as_of``), per A/B variant and in all:

* ``recipients``: planned to receive the message (not held out, not skipped);
* ``sent``: handed to the channel, ``delivered`` (status ``sent``) + ``bounced``;
* ``opened``, ``clicked``, ``unsubscribed``: recipients with that tracking record of
  their message; ``replied``: recipients credited with a reply (:mod:`.attribution`);
* ``converted``: customers with a purchase credited to the campaign, ``revenue`` the sum
  of those purchases in the CRM's ``default_currency`` (purchases in other currencies are
  counted as conversions but not added);
* ``cost`` = ``cost_fixed`` + ``cost_per_message`` × sent (per variant: its messages and
  its share of the sent messages of the fixed cost); ``roi`` = (revenue − cost) / cost
  (none when the cost is 0).

Uplift compares like with like, whatever the attribution model: a recipient *converts*
when they purchased within the attribution window from the moment the campaign planned
them.  The treated group is the recipients whose message was delivered, the control
group the holdout; uplift = treated rate − holdout rate, with a 95 % confidence interval
by Newcombe's hybrid score method (his method 10: Wilson score intervals of each rate,
combined), chosen over the Wald interval because holdouts are small and rates near 0,
where Wald's interval is too narrow and can leave [−1, 1].
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import BigInteger, and_, case, exists, func, select, type_coerce

from crmkit.plugin import (MONEY_SCALE, NotFound, ValidationError, chart_figure, days_between,
                           interactions, messages, save_chart)

from . import attribution
from .settings import Settings
from .tables import campaigns, recipients

CENT = Decimal("0.0001")
"""Money's precision (the core's ``MONEY_SCALE``)."""
Z95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95 % interval."""
COUNTS = ("recipients", "sent", "delivered", "bounced", "opened", "clicked", "unsubscribed",
          "replied", "converted")
COLUMNS = ("group",) + COUNTS + ("revenue", "cost", "roi", "rate", "uplift", "uplift_low",
                                 "uplift_high")
"""The table and CSV columns: one row per group (all, each variant, the holdout)."""


@attrs.frozen
class Uplift:
    """Treated conversion rate − holdout rate, with its 95 % interval."""

    difference: float
    low: float
    high: float
    confidence: float = 0.95
    method: str = "newcombe"


@attrs.frozen
class Holdout:
    """The random control group that received nothing."""

    size: int
    conversions: int
    rate: float | None


@attrs.frozen
class Line:
    """The counts and money of one group of recipients (all of them, or one variant)."""

    group: str
    recipients: int
    sent: int
    delivered: int
    bounced: int
    opened: int
    clicked: int
    unsubscribed: int
    replied: int
    converted: int
    revenue: Decimal
    cost: Decimal
    roi: Decimal | None
    treated: int
    treated_conversions: int
    rate: float | None
    uplift: Uplift | None


@attrs.frozen
class CampaignReport:
    """One campaign's results as of ``as_of``."""

    campaign: str
    status: str
    as_of: dt.datetime
    model: str
    attribution_days: int
    currency: str
    all: Line
    variants: tuple[Line, ...]
    holdout: Holdout

    def document(self) -> dict[str, Any]:
        """The JSON object: the totals at the top, then the holdout, uplift and variants."""
        head = {"campaign": self.campaign, "status": self.status, "as_of": self.as_of,
                "model": self.model, "attribution_days": self.attribution_days,
                "currency": self.currency}
        return {**head, **_line_document(self.all), "holdout": attrs.asdict(self.holdout),
                "variants": [{"variant": v.group, **_line_document(v)} for v in self.variants]}

    def rows(self) -> list[dict[str, Any]]:
        """The table/CSV rows: all, each variant, then the holdout."""
        rows = [_line_row(self.all)] + [_line_row(v, f"variant {v.group}")
                                        for v in self.variants]
        rows.append({"group": "holdout", "recipients": self.holdout.size,
                     "converted": self.holdout.conversions, "rate": _rounded(self.holdout.rate)})
        return rows


def _line_document(line: Line) -> dict[str, Any]:
    return {**{name: getattr(line, name) for name in COUNTS}, "revenue": line.revenue,
            "cost": line.cost, "roi": line.roi, "treated": line.treated,
            "treated_conversions": line.treated_conversions, "conversion_rate": line.rate,
            "uplift": None if line.uplift is None else attrs.asdict(line.uplift)}


def _line_row(line: Line, group: str | None = None) -> dict[str, Any]:
    row = {name: getattr(line, name) for name in COUNTS}
    uplift = line.uplift
    row.update(group=group or line.group, revenue=line.revenue, cost=line.cost, roi=line.roi,
               rate=_rounded(line.rate),
               uplift=_rounded(uplift.difference) if uplift else None,
               uplift_low=_rounded(uplift.low) if uplift else None,
               uplift_high=_rounded(uplift.high) if uplift else None)
    return row


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion (``trials`` > 0)."""
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Uplift | None:
    """p1 − p2 with Newcombe's hybrid score interval (method 10); None if a group is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    return Uplift(difference, difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
                  difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def report(conn, settings: Settings, currency: str, name: str,
           as_of: dt.datetime) -> CampaignReport:
    """The report of campaign ``name`` as of ``as_of`` (NotFound for an unknown campaign)."""
    c = campaigns.c
    campaign = conn.execute(select(c.id, c.status, c.attribution_days, c.cost_fixed,
                                   c.cost_per_message, c.created_at).where(c.name == name)).first()
    if campaign is None:
        raise NotFound(f"no campaign {name!r} (see `crmkit campaigns list`)")
    if as_of < campaign.created_at:
        raise ValidationError(f"as_of {as_of.isoformat()}: campaign {name!r} was created at "
                              f"{campaign.created_at.isoformat()}; report it as of then or later")
    model, default_days = settings.attribution_model, settings.attribution_days
    days = campaign.attribution_days or default_days
    counts = _counts(conn, campaign.id, days, as_of)
    tracked = _tracked(conn, campaign.id, as_of)
    credited = {kind: _credited(conn, kind, campaign.id, model, as_of, default_days, currency)
                for kind in ("reply", "conversion")}
    holdout_size, holdout_conversions = _holdout(conn, campaign.id, days, as_of)
    holdout = Holdout(holdout_size, holdout_conversions,
                      holdout_conversions / holdout_size if holdout_size else None)
    total_sent = sum(row["sent"] for row in counts.values())

    def line(group: str, variants: list[str | None]) -> Line:
        numbers = {name: sum(counts.get(v, {}).get(name, 0) for v in variants)
                   for name in ("recipients", "delivered", "bounced", "treated",
                                "treated_conversions")}
        sent = numbers["delivered"] + numbers["bounced"]
        if group == "all":
            fixed = campaign.cost_fixed
        else:  # a variant carries the fixed cost in proportion to the messages it sent
            fixed = campaign.cost_fixed * sent / total_sent if total_sent else Decimal(0)
        cost = (fixed + campaign.cost_per_message * sent).quantize(CENT, ROUND_HALF_UP)
        revenue = sum((credited["conversion"].get(v, (0, Decimal(0)))[1] for v in variants),
                      Decimal(0)).quantize(CENT)
        roi = ((revenue - cost) / cost).quantize(CENT, ROUND_HALF_UP) if cost else None
        treated, converted = numbers["treated"], numbers["treated_conversions"]
        return Line(
            group=group, recipients=numbers["recipients"], sent=sent,
            delivered=numbers["delivered"], bounced=numbers["bounced"],
            opened=sum(tracked.get((v, "message.opened"), 0) for v in variants),
            clicked=sum(tracked.get((v, "message.clicked"), 0) for v in variants),
            unsubscribed=sum(tracked.get((v, "message.unsubscribed"), 0) for v in variants),
            replied=sum(credited["reply"].get(v, (0, 0))[0] for v in variants),
            converted=sum(credited["conversion"].get(v, (0, 0))[0] for v in variants),
            revenue=revenue, cost=cost, roi=roi, treated=treated,
            treated_conversions=converted, rate=converted / treated if treated else None,
            uplift=newcombe(converted, treated, holdout_conversions, holdout_size))

    named = sorted(v for v in counts if v is not None)
    everyone = sorted(set(counts) | set(credited["conversion"]) | set(credited["reply"]),
                      key=lambda v: (v is None, v or ""))
    return CampaignReport(
        campaign=name, status=campaign.status, as_of=as_of, model=model,
        attribution_days=days, currency=currency, all=line("all", everyone),
        variants=tuple(line(v, [v]) for v in named), holdout=holdout)


def _purchased_within(days: int, as_of: dt.datetime):
    """The recipient bought within ``days`` of being planned, up to ``as_of``."""
    i, r = interactions.c, recipients.c
    return exists().where(i.customer_id == r.customer_id, i.kind == "purchase",
                          i.occurred_at >= r.planned_at, i.occurred_at <= as_of,
                          days_between(i.occurred_at, r.planned_at) <= days)


def delivered_by(as_of: dt.datetime):
    """A recipient's message was delivered (status ``sent``) by ``as_of``."""
    return and_(messages.c.status == "sent", messages.c.sent_at <= as_of)


def reached():
    """A recipient who is sent the message: not held out, not skipped."""
    return and_(recipients.c.holdout.is_(False), recipients.c.status != "skipped")


def _counts(conn, campaign_id: int, days: int, as_of: dt.datetime) -> dict[str | None, dict]:
    r, m = recipients.c, messages.c
    delivered = delivered_by(as_of)

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = (select(r.variant, func.count().label("recipients"),
                    count(delivered).label("delivered"),
                    count(m.status == "bounced").label("bounced"),
                    count(and_(delivered, _purchased_within(days, as_of)))
                    .label("treated_conversions"))
             .outerjoin(messages, m.message_id == r.message_id)
             .where(r.campaign_id == campaign_id, reached())
             .group_by(r.variant))
    found = {}
    for row in conn.execute(query).mappings():
        numbers = {k: int(v) for k, v in row.items() if k != "variant"}
        numbers["treated"] = numbers["delivered"]
        numbers["sent"] = numbers["delivered"] + numbers["bounced"]
        found[row["variant"]] = numbers
    return found


def _tracked(conn, campaign_id: int, as_of: dt.datetime) -> dict[tuple, int]:
    t = attribution.tracked(campaign_id, as_of)
    return {(variant, kind): count for variant, kind, count in conn.execute(
        select(t.c.variant, t.c.kind, func.count(func.distinct(t.c.customer_id)))
        .group_by(t.c.variant, t.c.kind))}


def _credited(conn, kind: str, campaign_id: int, model: str, as_of: dt.datetime,
              default_days: int, currency: str) -> dict[str | None, tuple[int, Decimal]]:
    """Per variant (None: not a recipient, e.g. a shared coupon passed on): customers credited
    and the revenue of their purchases in ``currency``."""
    credited = attribution.credited(kind, model, as_of, default_days, campaign_id)
    units = type_coerce(credited.c.amount, BigInteger)
    r = recipients.c
    query = (select(r.variant, func.count(func.distinct(credited.c.customer_id)),
                    func.sum(case((credited.c.currency == currency, units), else_=0)))
             .select_from(credited)
             .outerjoin(recipients, and_(r.campaign_id == campaign_id,
                                         r.customer_id == credited.c.customer_id))
             .group_by(r.variant))
    return {variant: (int(customers), (Decimal(int(total or 0)) / MONEY_SCALE).quantize(CENT))
            for variant, customers, total in conn.execute(query)}


def _holdout(conn, campaign_id: int, days: int, as_of: dt.datetime) -> tuple[int, int]:
    r = recipients.c
    size, conversions = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((_purchased_within(days, as_of), 1),
                                                         else_=0)), 0))
        .where(r.campaign_id == campaign_id, r.holdout.is_(True))).one()
    return int(size), int(conversions)


def forecast(conn, settings: Settings, currency: str,
             as_of: dt.datetime) -> list[dict[str, Any]]:
    """Each campaign's revenue still expected within its attribution window (the
    ``crmkit_forecast_contributions`` answer): the delivered recipients whose window is open
    at ``as_of`` and who have not converted yet, each bringing the campaign's revenue per
    converted customer so far with its conversion rate so far (converted / delivered).  A
    campaign with no conversion yet, or no open window, expects nothing."""
    model, default_days = settings.attribution_model, settings.attribution_days
    found = []
    for campaign_id, name, own_days in conn.execute(
            select(campaigns.c.id, campaigns.c.name, campaigns.c.attribution_days)
            .where(exists().where(recipients.c.campaign_id == campaigns.c.id,
                                  recipients.c.message_id.is_not(None)))
            .order_by(campaigns.c.name)):
        days = own_days or default_days
        credited = attribution.credited("conversion", model, as_of, default_days, campaign_id)
        r, m = recipients.c, messages.c
        waiting, last_sent = conn.execute(
            select(func.count(), func.max(m.sent_at))
            .join(messages, m.message_id == r.message_id)
            .where(r.campaign_id == campaign_id, m.status == "sent", m.sent_at <= as_of,
                   m.sent_at > as_of - dt.timedelta(days=days),
                   ~exists().where(credited.c.customer_id == r.customer_id))).one()
        if not waiting:
            continue
        line = report(conn, settings, currency, name, as_of).all
        if not line.converted or not line.delivered:
            continue
        found.append({"label": f"campaign {name}", "owner": None, "currency": currency,
                      "count": waiting,
                      "amount": (line.revenue * waiting / line.converted).quantize(
                          CENT),
                      "probability": round(100 * line.converted / line.delivered),
                      "expected_close": (last_sent + dt.timedelta(days=days)).date()})
    return found


def plot(result: CampaignReport, path: str) -> Path:
    """A bar chart of the funnel (sent → converted) per variant, and the holdout's rate."""
    stages = ("sent", "delivered", "opened", "clicked", "converted")
    lines = list(result.variants) or [result.all]
    figure = chart_figure(path)
    axes = figure.add_subplot()
    width = 0.8 / len(lines)
    for n, line in enumerate(lines):
        axes.bar([s + n * width for s in range(len(stages))],
                 [getattr(line, stage) for stage in stages], width,
                 label=line.group if result.variants else "all")
    axes.set_xticks([s + width * (len(lines) - 1) / 2 for s in range(len(stages))], stages)
    axes.set_ylabel("recipients")
    uplift = result.all.uplift
    note = (f"uplift {uplift.difference:+.1%} (95 % CI {uplift.low:+.1%} to {uplift.high:+.1%})"
            if uplift else "no holdout to compare with")
    axes.set_title(f"Campaign {result.campaign}: {note}")
    axes.legend()
    return save_chart(figure, path)


__all__ = ["CampaignReport", "Line", "Holdout", "Uplift", "COLUMNS", "report", "forecast",
           "wilson", "delivered_by", "reached",
           "newcombe", "plot", "Z95"]
