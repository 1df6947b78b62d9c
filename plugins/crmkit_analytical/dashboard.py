"""analytical's panels on the web app's dashboards: KPIs with attainment, cohort retention,
the RFM grid, the Pareto curve and the NPS/CSAT trend (each aggregated in SQL by the API)."""

from __future__ import annotations

from crmkit.plugin import Panel

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
            pareto(api, as_of), satisfaction(api, as_of)]


def kpis(api, as_of) -> Panel:
    """The configured SMART KPIs: attainment in percent (drawn), value, target and status."""
    rows = [(k.name, None if k.attainment is None else round(k.attainment * 100, 1),
             k.value, k.target, k.status.replace("_", " "), k.period)
            for k in api.kpis(as_of)]
    return Panel(name="analytical.kpis", title="KPIs",
                 columns=("KPI", "Attainment (%)", "Value", "Target", "Status", "Period"),
                 rows=rows, chart="bar", x=0, y=(1,),
                 note=None if rows else "No KPIs configured: add them to the analytical "
                                        "configuration's kpis.")


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
    return Panel(name="analytical.cohort-retention", title="Cohort retention (% buying)",
                 columns=("Cohort", "Customers", *(f"Month {k}" for k in months)),
                 rows=rows, chart="heatmap", x=0, y=tuple(range(2, COHORT_MONTHS + 3)),
                 note="Customers by the month of their first purchase; each cell is the "
                      "% of them who bought in the k-th month after it.")


def rfm_grid(api, as_of) -> Panel:
    """Customers per recency score (rows, best first) and frequency score (columns)."""
    bins = api.config["rfm"]["bins"]
    counts = {(cell["r"], cell["f"]): cell["customers"] for cell in api.rfm_grid(as_of)}
    rows = [(f"R{r}", *(counts.get((r, f), 0) for f in range(1, bins + 1)))
            for r in range(bins, 0, -1)] if counts else []
    return Panel(name="analytical.rfm-grid", title="RFM grid (customers by R and F score)",
                 columns=("Recency score", *(f"F{f}" for f in range(1, bins + 1))),
                 rows=rows, chart="heatmap", x=0, y=tuple(range(1, bins + 1)),
                 note=f"Scores run 1–{bins}; higher is better (more recent, more frequent).")


def pareto(api, as_of) -> Panel:
    """The cumulative share of revenue against the share of customers, best first."""
    result = api.pareto(as_of, curve_points=PARETO_POINTS)
    rows = [(round(x, 1), round(y, 1)) for x, y in result.curve]
    note = None
    if result.customers and result.top_revenue_share is not None:
        note = (f"The top {result.top_share * 100:g} % of {result.customers} customers bring "
                f"{result.top_revenue_share} % of revenue; {result.revenue_target * 100:g} % "
                f"of revenue comes from {result.customer_share_for_target} % of customers.")
    return Panel(name="analytical.pareto", title="Pareto curve (revenue concentration)",
                 columns=("Customers (%)", "Revenue (%)"), rows=rows, chart="curve", x=0,
                 y=(1,), note=note)


def satisfaction(api, as_of) -> Panel:
    """NPS and CSAT per month of the satisfaction window, with the number of answers."""
    rows = [(m["month"], m["nps"], m["csat"], m["nps_responses"], m["csat_responses"])
            for m in api.satisfaction_by_month(as_of)]
    return Panel(name="analytical.satisfaction", title="NPS and CSAT by month",
                 columns=("Month", "NPS", "CSAT (%)", "NPS answers", "CSAT answers"),
                 rows=rows, chart="line", x=0, y=(1, 2),
                 note="NPS = % promoters (9–10) − % detractors (0–6); CSAT = % of answers 4 "
                      "or 5. Months with fewer answers than the minimum sample are still "
                      "shown.")
