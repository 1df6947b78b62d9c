"""catalogue's HTTP routes, mounted under ``/api/v1/catalogue/``.

Products (list, one, import a list), profit per customer, segment or period,
association rules and next-best offers.  Every handler calls the public API
(``call.api()``), which holds the rules: an imported list of products is
checked by the same code as ``crmkit catalogue import`` (any bad row rejects
the list, nothing written; ``row N`` is the pointer ``/N-1``), and a report's
``as_of`` query (default: now) makes it reproducible.  The next-best offers and the profit
lines are answered a page at a time (``ReportPage``, the cursor keeping the first page's
``as_of``); the offers and the profit per customer leave out the customers a plugin's
row-level rule hides from the caller (``customers.read``, asked once per page); the profit
per segment or period counts every customer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crmkit.plugin import (AS_OF_INSTANT, DECIMAL, INSTANT, INTEGER, NUMBER, OPTIONAL_INSTANT,
                           TEXT, Endpoint, KeyedPage, ReportPage, closed_object, jsonable,
                           keyed_query, report_page_schema, report_query, timestamp_or_none)

from .products import FIELDS, REQUIRED
from .profit import BY, PERIODS

READ = "catalogue.read"
WRITE = "catalogue.write"

PERMISSIONS = {
    READ: "See the products, profit per customer, segment or period, association rules and "
          "next-best offers.",
    WRITE: "Import products (create or update them by SKU).",
}

MAX_PRODUCTS = 1000
"""Most products one request may import (a file goes through ``crmkit catalogue import``)."""

PRODUCT = closed_object({"sku": TEXT, "name": TEXT, "category": TEXT, "list_price": DECIMAL,
                         "unit_cost": DECIMAL, "active_from": OPTIONAL_INSTANT,
                         "active_to": OPTIONAL_INSTANT})
OFFER = closed_object({"customer": TEXT, "rank": INTEGER, "sku": TEXT,
                       "kind": {"enum": ["cross", "up"]}, "score": NUMBER})


def _rules_options() -> dict[str, Any]:
    """The ``rules`` settings a request may override, as the config schema states them."""
    config = json.loads((Path(__file__).parent / "config.schema.json").read_text())
    rules = config["properties"]["rules"]["properties"]
    return {name: {k: v for k, v in spec.items() if k != "default"}
            for name, spec in rules.items()}


def _as_of(call):
    return timestamp_or_none(call.query.get("as_of"), "as_of")


def products(call):
    page = KeyedPage.of(call)
    active_at = (_as_of(call) or call.crm.clock.now()) if call.query["active"] else None
    rows = call.api().products(call.query.get("category"), active_at, after=page.after,
                               limit=page.limit + 1)
    return page.answer(call, rows, key_of=lambda product: product.sku, key=None)


def product(call):
    return jsonable(call.api().product(call.path_params["sku"]))


def import_products(call):
    report = call.api().add_products(call.body)
    return {"read": report.read, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged}


def profit(call):
    q, api, page = call.query, call.api(), ReportPage.of(call)
    lines = api.profit(q["by"], page.as_of, timestamp_or_none(q.get("since"), "since"),
                       q["period"])
    found = page.answer(call, lines, shape=lambda line: jsonable(line.as_dict(q["by"])),
                        key="customer" if q["by"] == "customer" else None)
    return {**found, "note": api.acquisition_note()}


def rules(call):
    overrides = {k: v for k, v in call.query.items() if k != "as_of"}
    return call.api().rules(_as_of(call), **overrides)


def offers(call):
    page = ReportPage.of(call)
    return page.answer(call, call.api().offers(None, page.as_of))


def customer_offers(call):
    return call.api().offers(call.path_params["customer"], _as_of(call))


def endpoints() -> list[Endpoint]:
    """catalogue's endpoints (the ``crmkit_routes`` answer)."""
    as_of = closed_object({"as_of": AS_OF_INSTANT})
    product_in = {"type": "object", "description": "A product: " + ", ".join(FIELDS)
                  + " (required: " + ", ".join(REQUIRED)
                  + "; checked as by `crmkit catalogue import`)."}
    money = {name: DECIMAL for name in ("revenue", "cost_of_goods", "gross_margin",
                                        "cost_to_serve", "acquisition_cost", "profit")}
    profit_line = closed_object({**{key: TEXT for key in BY}, "customers": INTEGER, **money})
    offers_schema = {"type": "array", "items": OFFER}
    return [
        Endpoint("GET", "products", products, READ,
                 "Products by SKU, a page at a time; a category includes its subcategories; "
                 "active keeps those on sale at as_of.",
                 query_schema=keyed_query({
                     "category": {**TEXT, "description": "A category path such as drinks/tea."},
                     "active": {"type": "boolean", "default": False,
                                "description": "Only products on sale at as_of."},
                     "as_of": {**INSTANT, "description": "With active: on sale at this "
                                                         "instant (default: now)."}}),
                 response_schema=report_page_schema(PRODUCT)),
        Endpoint("GET", "products/{sku}", product, READ, "One product.",
                 response_schema=PRODUCT),
        Endpoint("POST", "products", import_products, WRITE,
                 "Import a list of products, upserted by SKU (all checked first; nothing "
                 "stored if any is bad).",
                 body_schema={"type": "array", "items": product_in, "minItems": 1,
                              "maxItems": MAX_PRODUCTS},
                 response_schema=closed_object({"read": INTEGER, "created": INTEGER,
                                                "updated": INTEGER, "unchanged": INTEGER}),
                 status=201),
        Endpoint("GET", "profit", profit, READ,
                 "Profit (gross margin − cost to serve − acquisition cost) per customer, saved "
                 "segment or period, for purchases and costs in (since, as_of].",
                 query_schema=report_query({
                     "by": {"enum": list(BY), "default": "customer"},
                     "period": {"enum": list(PERIODS), "default": "month",
                                "description": "The calendar period (UTC) of by=period."},
                     "since": INSTANT}),
                 response_schema=report_page_schema(profit_line, note=TEXT)),
        Endpoint("GET", "rules", rules, READ,
                 "Association rules over the baskets up to as_of, highest lift first "
                 "(thresholds default to the configuration's).",
                 query_schema=closed_object({"as_of": AS_OF_INSTANT, **_rules_options()}),
                 response_schema={"type": "array", "items": closed_object({
                     "antecedents": {"type": "array", "items": TEXT},
                     "consequents": {"type": "array", "items": TEXT},
                     "support": NUMBER, "confidence": NUMBER, "lift": NUMBER})}),
        Endpoint("GET", "offers", offers, READ,
                 "Next-best offers of every customer who bought something, by customer and "
                 "best first, a page at a time.",
                 query_schema=report_query(), response_schema=report_page_schema(OFFER)),
        Endpoint("GET", "customers/{customer}/offers", customer_offers, READ,
                 "One customer's next-best offers (cross-sell and up-sell), best first.",
                 query_schema=as_of, response_schema=offers_schema),
    ]
