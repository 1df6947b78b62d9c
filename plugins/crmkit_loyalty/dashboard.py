"""loyalty's panel on the web app's dashboards: the points liability by expiry month."""

from __future__ import annotations

from crmkit.plugin import Panel, gettext as _


def panels(crm, principal, as_of) -> list[Panel]:
    """Outstanding points × the cost of a point, per month in which they expire."""
    api = crm.plugin("loyalty")
    lines = api.liability_by_expiry(as_of)
    currency = crm.core_config["default_currency"]
    rows = [(line.month or _("never"), line.liability, line.points, line.members)
            for line in lines]
    cost = api.settings.cost_per_point
    return [Panel(name="loyalty.liability", title=_("Points liability by expiry month"),
                  columns=(_("Expires in"), _("Liability ({currency})").format(currency=currency),
                           _("Points"), _("Members")),
                  rows=rows, chart="bar", x=0, y=(1,),
                  note=_("Points still open, valued at {cost} a point (loyalty's "
                         "cost_per_point).").format(cost=cost.normalize()))]
