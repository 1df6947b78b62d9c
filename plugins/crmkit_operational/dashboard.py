"""operational's panels on the web app's dashboards: the funnel (stage counts, conversion),
the sales-cycle length, lead sources and the forecast accuracy."""

from __future__ import annotations

from crmkit.plugin import Panel, gettext as _


FORECAST_MONTHS = 6
"""How many whole months the forecast accuracy panel compares."""


def panels(crm, principal, as_of) -> list[Panel]:
    """Every operational panel at ``as_of``."""
    api = crm.plugin("operational")
    return [funnel(api, as_of), sales_cycle(api, as_of), lead_sources(api, as_of),
            forecast_accuracy(api, as_of)]


def lead_sources(api, as_of) -> Panel:
    """Leads and conversions per lead source, with the revenue won."""
    rows = [(r["source"], r["leads"], r["converted"], r["conversion"],
             "; ".join(f"{amount:.2f} {currency}" for currency, amount in r["revenue"].items()))
            for r in api.lead_sources(as_of)]
    return Panel(name="operational.lead-sources", title=_("Lead sources"),
                 columns=(_("Source"), _("Leads"), _("Converted"), _("Conversion (%)"),
                          _("Revenue won")),
                 rows=rows, chart="bar", x=0, y=(1, 2),
                 note=_("Converted: leads whose customer won an opportunity."))


def sales_cycle(api, as_of) -> Panel:
    """Won opportunities per sales-cycle length bin, with the median."""
    from .cycle import BUCKETS

    found = api.sales_cycle(as_of)
    rows = ([(_("{days} days").format(days=label), found[0][f"days_{label}"])
             for _upper, label in BUCKETS] if found else [])
    note = (_("Median {days} days over {won} won opportunities.").format(
        days=found[0]["median_days"], won=found[0]["won"]) if found
        else _("No opportunity won yet."))
    return Panel(name="operational.sales-cycle", title=_("Sales-cycle length"),
                 columns=(_("Lead to won"), _("Opportunities won")), rows=rows, chart="bar",
                 x=0, y=(1,), note=note)


def forecast_accuracy(api, as_of) -> Panel:
    """Each month's weighted-pipeline forecast against what was won, per currency."""
    result = api.forecast_accuracy(as_of, FORECAST_MONTHS)
    rows = [(f"{r['month']} {r['currency']}", r["forecast"], r["actual"], r["abs_percent_error"])
            for r in result["months"]]
    summary = "; ".join(_("{currency}: MAPE {mape} %, bias {bias} %").format(
                            currency=s["currency"], mape=s["mape"], bias=s["bias"])
                        for s in result["summary"] if s["months"])
    return Panel(name="operational.forecast-accuracy", title=_("Forecast accuracy"),
                 columns=(_("Month"), _("Forecast"), _("Won"), _("Off by (%)")), rows=rows,
                 chart="bar", x=0, y=(1, 2),
                 note=summary or _("Nothing won in these months."))


def funnel(api, as_of) -> Panel:
    """The funnel at ``as_of``: customers reaching each stage (drawn), records at each stage
    now and the conversion to the next stage."""
    rows = api.stage_counts(as_of)
    ordered = [r for r in rows if r["reached"] is not None]
    exits = ", ".join(f"{r['current']} {r['stage']}" for r in rows if r["reached"] is None)
    return Panel(
        name="operational.funnel", title=_("Funnel"),
        columns=(_("Stage"), _("Reached (customers)"), _("At this stage now"),
                 _("Conversion to next (%)")),
        rows=[(r["stage"], r["reached"], r["current"], r["conversion"]) for r in ordered],
        chart="funnel", x=0, y=(1,),
        note=_("Reached: customers whose furthest stage is this one or a later one. "
               "Closed without winning: {exits}.").format(exits=exits))
