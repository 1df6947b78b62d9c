"""analytical's panels on the web app's dashboards: KPIs with attainment, cohort retention,
the RFM grid, the Pareto curve, the NPS/CSAT trend, sales growth, relationship phases,
engagement, relationship quality, perceived value and customer equity (each aggregated in
SQL by the API)."""

from __future__ import annotations

from sqlalchemy import func, select

from crmkit.plugin import ConfigError, Panel, gettext as _

from .tables import clv_runs

COHORTS = 6
"""How many of the latest first-purchase months the retention heat map shows."""
COHORT_MONTHS = 6
"""How many months after the first purchase month it follows each cohort."""
PARETO_POINTS = 20
"""About how many points of the Pareto curve are drawn."""


def panels(crm, principal, as_of) -> list[Panel]:
    """Every analytical panel at ``as_of``."""
    api = crm.plugin("analytical")
    return [kpis(api, as_of), cohort_retention(api, as_of), rfm_grid(api, as_of),
            pareto(api, as_of), satisfaction(api, as_of), sales_growth(api, as_of),
            phases(api, as_of), engagement(api, as_of), relationship_quality(api, as_of),
            perceived_value(api, as_of), customer_equity(crm, api, as_of)]


def kpis(api, as_of) -> Panel:
    """The configured SMART KPIs: attainment in percent (drawn), value, target and status."""
    rows = [(k.name, None if k.attainment is None else round(k.attainment * 100, 1),
             k.value, k.target, k.status.replace("_", " "), k.period)
            for k in api.kpis(as_of)]
    return Panel(name="analytical.kpis", title=_("KPIs"),
                 columns=(_("KPI"), _("Attainment (%)"), _("Value"), _("Target"), _("Status"),
                          _("Period")),
                 rows=rows, chart="bar", x=0, y=(1,),
                 note=None if rows else _("No KPIs configured: add them to the analytical "
                                          "configuration's kpis."))


def cohort_retention(api, as_of) -> Panel:
    """% of each first-purchase month's customers buying again k months later."""
    cells = api.cohorts(as_of, cohorts=COHORTS, months=COHORT_MONTHS)
    cohorts: dict[str, dict[int, float]] = {}
    sizes: dict[str, int] = {}
    for cell in cells:
        cohorts.setdefault(cell.cohort, {})[cell.month] = cell.share
        sizes[cell.cohort] = cell.size
    months = range(COHORT_MONTHS + 1)
    rows = [(cohort, sizes[cohort], *(shares.get(k) for k in months))
            for cohort, shares in cohorts.items()]
    return Panel(name="analytical.cohort-retention", title=_("Cohort retention (% buying)"),
                 columns=(_("Cohort"), _("Customers"),
                          *(_("Month {k}").format(k=k) for k in months)),
                 rows=rows, chart="heatmap", x=0, y=tuple(range(2, COHORT_MONTHS + 3)),
                 note=_("Customers by the month of their first purchase; each cell is the "
                      "% of them who bought in the k-th month after it."))


def rfm_grid(api, as_of) -> Panel:
    """Customers per recency score (rows, best first) and frequency score (columns)."""
    bins = api.settings.rfm.bins
    counts = {(cell["r"], cell["f"]): cell["customers"] for cell in api.rfm_grid(as_of)}
    rows = [(f"R{r}", *(counts.get((r, f), 0) for f in range(1, bins + 1)))
            for r in range(bins, 0, -1)] if counts else []
    return Panel(name="analytical.rfm-grid", title=_("RFM grid (customers by R and F score)"),
                 columns=(_("Recency score"), *(f"F{f}" for f in range(1, bins + 1))),
                 rows=rows, chart="heatmap", x=0, y=tuple(range(1, bins + 1)),
                 note=_("Scores run 1–{bins}; higher is better (more recent, more frequent)."
                        ).format(bins=bins))


def pareto(api, as_of) -> Panel:
    """The cumulative share of revenue against the share of customers, best first."""
    result = api.pareto(as_of, curve_points=PARETO_POINTS)
    rows = [(round(x, 1), round(y, 1)) for x, y in result.curve]
    note = None
    if result.customers and result.top_revenue_share is not None:
        note = _("The top {top:g} % of {customers} customers bring {top_share} % of revenue; "
                 "{target:g} % of revenue comes from {target_share} % of customers.").format(
            top=result.top_share * 100, customers=result.customers,
            top_share=result.top_revenue_share, target=result.revenue_target * 100,
            target_share=result.customer_share_for_target)
    return Panel(name="analytical.pareto", title=_("Pareto curve (revenue concentration)"),
                 columns=(_("Customers (%)"), _("Revenue (%)")), rows=rows, chart="curve", x=0,
                 y=(1,), note=note)


def satisfaction(api, as_of) -> Panel:
    """NPS and CSAT per month of the satisfaction window, with the number of answers."""
    rows = [(m["month"], m["nps"], m["csat"], m["nps_responses"], m["csat_responses"])
            for m in api.satisfaction_by_month(as_of)]
    return Panel(name="analytical.satisfaction", title=_("NPS and CSAT by month"),
                 columns=(_("Month"), _("NPS"), _("CSAT (%)"), _("NPS answers"),
                          _("CSAT answers")),
                 rows=rows, chart="line", x=0, y=(1, 2),
                 note=_("NPS = % promoters (9–10) − % detractors (0–6); CSAT = % of answers "
                        "4 or 5. Months with fewer answers than the minimum sample are still "
                        "shown."))


GROWTH_MONTHS = 12
"""How many whole months the sales growth panel shows."""


def sales_growth(api, as_of) -> Panel:
    """Net revenue of each of the last 12 whole months and its growth over the month before."""
    rows = [(r.period, r.value, r.previous, r.growth_percent)
            for r in api.sales_growth(as_of, "month", GROWTH_MONTHS)]
    return Panel(name="analytical.sales-growth", title=_("Sales growth by month"),
                 columns=(_("Month"), _("Revenue"), _("Month before"), _("Growth (%)")),
                 rows=rows,
                 chart="bar", x=0, y=(1,),
                 note=_("Net revenue (purchases minus refunds); growth = (this − before) / "
                      "before × 100, empty when the month before had none."))


def phases(api, as_of) -> Panel:
    """Customers per relationship phase."""
    counts = api.phase_counts(as_of)
    return Panel(name="analytical.relationship-phases", title=_("Relationship phases"),
                 columns=(_("Phase"), _("Customers")), rows=tuple(counts.items()), chart="bar",
                 x=0, y=(1,),
                 note=_("From tenure and the spend and engagement trends of the recent window "
                      "against the one before (crmkit analytical phases)."))


def engagement(api, as_of) -> Panel:
    """Interactions and engagement points per kind in the engagement window."""
    rows = [(k.kind, k.interactions, k.points) for k in api.engagement_by_kind(as_of)]
    mean = api.average_engagement(as_of)
    return Panel(name="analytical.engagement", title=_("Engagement across channels"),
                 columns=(_("Kind"), _("Interactions"), _("Points")), rows=rows, chart="bar", x=0,
                 y=(2,), note=None if mean is None else
                 _("Mean engagement per customer (the unengaged counting 0): {mean}.").format(
                     mean=mean))


def relationship_quality(api, as_of) -> Panel:
    """The mean trust, satisfaction, commitment and index over the customers scored."""
    from .relationship import summary

    found = summary(api.relationship_quality(as_of))
    names = {"trust": _("trust"), "satisfaction": _("satisfaction"),
             "commitment": _("commitment"), "index": _("index")}
    rows = [(names[name], found[name]) for name in names] if found["customers"] else []
    return Panel(name="analytical.relationship-quality",
                 title=_("Relationship quality (0–100)"),
                 columns=(_("Component"), _("Mean")), rows=rows, chart="bar", x=0, y=(1,),
                 note=_("Means over {customers} customers with an interaction in the window; "
                        "each component blends survey items and behaviour.").format(
                     customers=found["customers"]))


def perceived_value(api, as_of) -> Panel:
    """Perceived benefit, cost and net value of every respondent and per saved segment."""
    columns = (_("Group"), _("Respondents"), _("Benefit"), _("Cost"), _("Net value"))
    try:
        rows = [(v.group, v.respondents, v.benefit, v.cost, v.net)
                for v in api.perceived_value(as_of)]
    except ConfigError as exc:
        return Panel(name="analytical.perceived-value", title=_("Perceived value"),
                     columns=columns, rows=(), chart="table", note=str(exc))
    return Panel(name="analytical.perceived-value", title=_("Perceived value"), columns=columns,
                 rows=rows, chart="bar", x=0, y=(2, 3),
                 note=_("Benefit and cost: means of the survey items (0–100); net = benefit − "
                      "cost."))


def customer_equity(crm, api, as_of) -> Panel:
    """Customer equity's parts from the latest stored CLV run at or before ``as_of`` (a page
    view never fits the models)."""
    from .clv import stored_predictions
    from .equity import compute

    columns = (_("Part"), _("Value"))
    with crm.read() as conn:
        run_id = conn.execute(select(func.max(clv_runs.c.id))
                              .where(clv_runs.c.as_of <= as_of)).scalar()
        if run_id is None:
            return Panel(name="analytical.customer-equity", title=_("Customer equity"),
                         columns=columns, rows=(), chart="table",
                         note=_("No stored CLV run yet: run crmkit analytical clv predict "
                              "(or crmkit analytical equity)."))
        clv = {p.customer_id: p.clv for p in stored_predictions(conn, run_id)}
        found = compute(conn, api.settings, as_of, clv)
    rows = [(_("Current customers' CLV"), found.current_value),
            (_("Prospects' expected value"), found.prospect_value),
            (_("Customer equity"), found.equity)]
    note = _("{customers} customers, {prospects} prospects at a conversion probability of "
             "{probability} ({source}); CLV from the stored run {run}.").format(
        customers=found.customers, prospects=found.prospects,
        probability=found.conversion_probability, source=found.conversion_source, run=run_id)
    return Panel(name="analytical.customer-equity", title=_("Customer equity"), columns=columns,
                 rows=rows, chart="bar", x=0, y=(1,),
                 note=note + (f" {found.note}" if found.note else ""))
