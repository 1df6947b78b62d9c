"""campaigns' panel on the web app's dashboards: each campaign's revenue, cost, ROI and uplift."""

from __future__ import annotations

from crmkit.plugin import Panel, gettext as _


def panels(crm, principal, as_of) -> list[Panel]:
    """One row per campaign that sent anything, newest first: its report as of ``as_of``."""
    api = crm.plugin("campaigns")
    rows = []
    for summary in api.list():
        line = api.report(summary["name"], as_of).all
        if not line.sent:
            continue
        uplift = line.uplift
        rows.append((summary["name"], line.sent, line.converted, line.revenue, line.cost,
                     line.roi, None if uplift is None else round(100 * uplift.difference, 1),
                     None if uplift is None else round(100 * uplift.low, 1),
                     None if uplift is None else round(100 * uplift.high, 1)))
    currency = crm.core_config["default_currency"]
    return [Panel(name="campaigns.results", title=_("Campaign results"),
                  columns=(_("Campaign"), _("Sent"), _("Converted"),
                           _("Revenue ({currency})").format(currency=currency),
                           _("Cost ({currency})").format(currency=currency), _("ROI"),
                           _("Uplift (points)"), _("Uplift low"), _("Uplift high")),
                  rows=rows, chart="bar", x=0, y=(3, 4),
                  note=_("Revenue credited by the attribution model; uplift over the holdout "
                         "in percentage points with its 95 % interval (crmkit campaigns "
                         "report)."))]
