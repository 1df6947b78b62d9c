"""campaigns' panel on the web app's dashboards: each campaign's revenue, cost, ROI and uplift."""

from __future__ import annotations

from crmkit.plugin import Panel


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
    return [Panel(name="campaigns.results", title="Campaign results",
                  columns=("Campaign", "Sent", "Converted", f"Revenue ({currency})",
                           f"Cost ({currency})", "ROI", "Uplift (points)", "Uplift low",
                           "Uplift high"),
                  rows=rows, chart="bar", x=0, y=(3, 4),
                  note="Revenue credited by the attribution model; uplift over the holdout "
                       "in percentage points with its 95 % interval (crmkit campaigns report).")]
