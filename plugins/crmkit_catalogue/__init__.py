"""catalogue: products, line items, profit per customer, cross-sell and up-sell.

Products (SKU, name, a category tree, list price, unit cost, active dates) are
imported from CSV or JSON Lines.  Purchases carry line items in
``payload.items`` (the core's line-item convention); the write pipeline refuses
an unknown SKU, a quantity ≤ 0 or totals that do not add up, and keeps each
line with the product's unit cost.  From them: profit per customer, segment or
period (gross margin − cost to serve − acquisition cost), association rules
over baskets and next-best offers.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="catalogue",
    description="Products and line items: profit per customer, association rules, "
                "next-best offers.",
    api="CatalogueAPI",
    parts=("cli", "config", "migrations", "tables", "dataservices", "demo", "routes", "card",
           "locale"),
)


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    """Refuse purchases whose line items name an unknown SKU, a quantity ≤ 0, or do not add
    up to the amount."""
    from .items import problems
    from .settings import settings_of

    return problems(settings_of(ctx.config), ctx.conn, rows)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    """Keep the batch's line items with the products' unit costs (one insert per batch)."""
    from .items import store

    store(ctx, batch)


@hookimpl
def crmkit_demo_prepare(crm, products):
    """The products the core's sample purchases name, so their line items pass the checks."""
    crm.plugin("catalogue").add_products([dict(p) for p in products])


@hookimpl
def crmkit_customer_measure(crm, config, measure, as_of, since):
    """``margin`` (gross margin) and ``profit`` per customer in money units, in SQL."""
    if measure not in ("margin", "profit"):
        return None
    from .profit import acquisitions, customer_units
    from .settings import settings_of

    acquired = list(acquisitions(crm, as_of, since).values()) if measure == "profit" else ()
    return customer_units(settings_of(config), as_of, since, measure, acquired)
