"""analytical's part of ``crmkit demo``: segments, KPIs, stored stages and CLV, headline numbers.

Adds what an analyst would set up on day one — saved segments and SMART KPIs —
stores the lifecycle stages (emitting ``lifecycle.changed``) and a CLV run
(which idic and valuechain then reuse), and reports the headline numbers.
With the ``plots`` extra installed it also writes the RFM grid, cohort,
Pareto and funnel charts next to a SQLite database (else into
``crmkit-demo-charts/`` in the working directory).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmkit.plugin import CRMError

from . import charts
from .errors import ModelFitError

COMMENTS = ["great service", "delivery was late", "friendly staff", "too expensive",
            "easy checkout", "product broke after a week", "will buy again", "slow support"]
CHANNELS = ["email", "sms", "phone", "web", "store", "social"]


def history(rng: random.Random, start: dt.datetime, end: dt.datetime, per_customer: float,
            products: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One demo customer's purchases and surveys (``crmkit_demo_interactions``).

    Purchases follow the processes the CLV models assume, so their fits on the
    demo are meaningful: while alive a customer buys at a rate drawn from a
    gamma distribution, drops out after each purchase with a probability drawn
    from a beta distribution (BG/NBD), and spends around a personal mean drawn
    from a gamma distribution (Gamma-Gamma).  A little over half of
    ``per_customer`` are purchases, each of a few of the sample ``products``;
    surveys come while the customer is active.
    """
    days = (end - start).days
    mean_rate = per_customer * 0.55 / (days * 0.6)  # purchases per day while alive
    first = start + dt.timedelta(days=rng.uniform(0, days * 0.9))
    rate = rng.gammavariate(1.5, mean_rate / 1.5)
    dropout = rng.betavariate(1.0, 5.0)
    mean_spend = 4.0 / rng.gammavariate(3.0, 1 / 75)  # p / nu with nu ~ Gamma(q=3, gamma=75)
    rows, at = [], first
    while at < end:
        rows.append(_purchase(rng, at, mean_spend, products))
        if rng.random() < dropout:
            break
        at += dt.timedelta(days=rng.expovariate(rate))
    span = max((min(at, end) - first).total_seconds() / 86400, 1.0)
    for _ in range(int(rng.expovariate(1 / (per_customer * 0.09)))):
        rows.append(_survey(rng, first + dt.timedelta(days=rng.uniform(0, span))))
    return rows


def _purchase(rng: random.Random, at: dt.datetime, mean_spend: float,
              products: list[dict[str, str]]) -> dict[str, Any]:
    """A purchase of a few items whose total is gamma-distributed around ``mean_spend``."""
    total = max(rng.gammavariate(4.0, mean_spend / 4.0), 5.0)
    weights = [rng.random() + 0.2 for _ in range(rng.randint(1, 3))]
    items = []
    for w in weights:
        product = products[rng.randrange(len(products))]
        price = str(Decimal(round(total * w / sum(weights), 2)).quantize(Decimal("0.01")))
        items.append({"sku": product["sku"], "category": product["category"], "qty": 1,
                      "unit_price": price, "amount": price})
    if rng.random() < 0.5:  # a charge line: no sku, only its amount
        items.append({"category": "delivery", "amount": "4.99"})
    return {"occurred_at": at + dt.timedelta(minutes=rng.randrange(1440)), "kind": "purchase",
            "channel": rng.choice(CHANNELS), "amount": sum(Decimal(i["amount"]) for i in items),
            "payload": {"items": items}}


def _survey(rng: random.Random, at: dt.datetime) -> dict[str, Any]:
    return {"occurred_at": at, "kind": "survey", "channel": "email",
            "payload": {"nps": rng.choices(range(11), weights=[1, 1, 1, 1, 2, 3, 4, 7, 10, 9, 8])[0],
                        "csat": rng.choices(range(1, 6), weights=[1, 2, 4, 8, 6])[0],
                        "ces": rng.randint(1, 7), "comment": rng.choice(COMMENTS)}}


SEGMENTS = [
    ("champions", {"field": "rfm.segment", "op": "eq", "value": "champions"},
     "RFM champions: bought recently, often and a lot"),
    ("valuable-at-risk", {"all": [{"field": "lifecycle", "op": "in", "value": ["at_risk", "lapsed"]},
                                  {"field": "clv", "op": "ge", "value": 500}]},
     "Predicted CLV of 500 or more but no purchase for over 90 days: win them back"),
    ("newsletter-new", {"all": [{"field": "tags", "op": "contains", "value": "newsletter"},
                                {"field": "lifecycle", "op": "eq", "value": "new"}]},
     "New customers who read the newsletter: onboarding series"),
]


def _kpis(now: dt.datetime) -> list[dict[str, Any]]:
    """The demo's SMART KPIs, for the year of ``now`` (targets sized for ~3000 customers)."""
    year_end = f"{now.year}-12-31"
    return [
        {"name": "revenue this year", "metric": "revenue", "target": 2_000_000, "period": "year",
         "owner": "gus", "deadline": year_end},
        {"name": "NPS this year", "metric": "nps", "target": 20, "period": "year", "owner": "dee",
         "deadline": year_end},
        {"name": "churn this quarter", "metric": "churn", "target": 10, "direction": "down",
         "period": "quarter", "owner": "ana", "deadline": year_end},
        {"name": "new customers this year", "metric": "new_customers", "target": 1500,
         "period": "year", "owner": "hal", "deadline": year_end},
    ]


def chart_dir(crm) -> Path:
    """Where the demo's charts go: beside a SQLite database file, else the working directory."""
    url = str(crm.url)
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        database = Path(url.removeprefix("sqlite:///"))
        return database.parent / f"{database.stem}-charts"
    return Path("crmkit-demo-charts")


def run(crm, rng) -> list[str]:
    """Configure KPIs, save segments, store stages and a CLV run; return the headline numbers."""
    api = crm.plugin("analytical")
    now = crm.clock.now()
    config = dict(crm.plugin_config("analytical"))
    config["kpis"] = _kpis(now)
    crm.plugins.configure("analytical", config)
    lines = []
    try:
        fit, predictions = api.clv_run(now, store=True)
        total = sum(p.clv for p in predictions)
        bg, gg = fit.bgnbd, fit.gamma_gamma
        lines.append(f"CLV (BG/NBD r={bg['r']:.3g} alpha={bg['alpha']:.3g} a={bg['a']:.3g} "
                     f"b={bg['b']:.3g}; Gamma-Gamma p={gg['p']:.3g} q={_g(gg['q'])} "
                     f"v={_g(gg['v'])}): {len(predictions)} customers, 12-month CLV "
                     f"{total:,.2f} in total, {total / len(predictions):,.2f} on average")
    except ModelFitError as exc:
        lines.append(f"CLV: not fitted: {exc}")
    for name, condition, description in SEGMENTS:
        api.save_segment(name, condition, description, replace=True)
    sizes = ", ".join(f"{name} {len(api.segment_members(name, now))}" for name, _, _ in SEGMENTS)
    lines.append(f"saved segments: {sizes}")
    stages = api.update_lifecycle(now)
    lines.append("lifecycle: " + ", ".join(f"{k} {v}" for k, v in stages.counts.items())
                 + f" ({stages.changed} lifecycle.changed events)")
    segments = api.rfm_segments(now)
    top = sorted(segments.items(), key=lambda kv: -kv[1])[:4]
    lines.append(f"RFM: {sum(segments.values())} buyers; "
                 + ", ".join(f"{k} {v}" for k, v in top))
    pareto = api.pareto(now)
    lines.append(f"Pareto: top {pareto.top_share:.0%} of customers bring "
                 f"{pareto.top_revenue_share}% of revenue; {pareto.customer_share_for_target}% "
                 f"of customers bring {pareto.revenue_target:.0%}")
    scores = api.satisfaction(now)
    lines.append("satisfaction (365 days): " + ", ".join(
        f"{s.metric.upper()} {s.value} ({s.responses} answers)" for s in scores.values()))
    lines.append("KPIs: " + "; ".join(f"{k.name} {k.value} vs {k.target} {k.status}"
                                      + (f" ({k.note})" if k.note else "") for k in api.kpis(now)))
    return lines


def refresh(crm) -> list[str]:
    """The demo's charts, drawn now (or how to get them): they depend on this machine having
    matplotlib, not on the stored data, so they are redone on every ``crmkit demo``."""
    api = crm.plugin("analytical")
    now = crm.clock.now()
    pareto = api.pareto(now, curve_points=200) if charts.available() else None
    return [_charts(crm, api, now, pareto)]


def _g(value) -> str:
    return "inf" if value is None else f"{value:.3g}"


def _charts(crm, api, now: dt.datetime, pareto) -> str:
    """Draw the charts, or say how to get them."""
    if not charts.available():
        return f"charts: not drawn (matplotlib is missing: {charts.INSTALL})"
    folder = chart_dir(crm)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        drawn = [charts.rfm_grid(api.rfm_grid(now), api.settings.rfm.bins,
                                 folder / "rfm-grid.png"),
                 charts.cohorts(api.cohorts(now), folder / "cohorts.png"),
                 charts.pareto(pareto, folder / "pareto.png")]
        steps, _ = api.funnel(now)
        if steps:
            drawn.append(charts.funnel(steps, folder / "funnel.png"))
    except (OSError, CRMError) as exc:
        return f"charts: not drawn ({exc})"
    return f"charts: {', '.join(p.name for p in drawn)} in {folder}"
