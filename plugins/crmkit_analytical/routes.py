"""analytical's HTTP routes, mounted under ``/api/v1/analytical/``.

The reports (RFM, CLV predictions, Pareto, KPIs, satisfaction, lifecycle)
and the saved segments.  Every handler calls the public API
(``call.api()``); a report's ``as_of`` query (default: now) makes it
reproducible.  Reports never store anything: ``GET clv/predictions`` fits
and predicts without keeping the run.  RFM scores and CLV predictions are answered a page
at a time (``ReportPage``, the cursor keeping the first page's ``as_of``), and so are a
segment's members.  These lists leave out the customers a plugin's row-level rule hides from
the caller (``customers.read``, asked once per page); the counts and totals are over every
customer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crmkit.plugin import (AS_OF_INSTANT, DECIMAL, INSTANT, INTEGER, NUMBER, OPTIONAL_NUMBER,
                           OPTIONAL_TEXT, TEXT, Endpoint, ReportPage, closed_object, jsonable,
                           report_page_schema, report_query, timestamp_or_none)

READ = "analytical.read"
WRITE = "analytical.write"

PERMISSIONS = {
    READ: "See the analytical reports (RFM, CLV, Pareto, KPIs, satisfaction, lifecycle) "
          "and the saved segments with their members.",
    WRITE: "Save and delete segments.",
}



def _clv_options() -> dict[str, Any]:
    """The CLV settings a prediction may override, as the config schema states them."""
    config = json.loads((Path(__file__).parent / "config.schema.json").read_text())
    clv = config["properties"]["clv"]["properties"]
    return {name: {k: v for k, v in clv[name].items() if k != "default"}
            for name in ("time_unit", "horizon", "discount_rate", "months")}


def _as_of(call):
    return timestamp_or_none(call.query.get("as_of"), "as_of")


def _since(call):
    return timestamp_or_none(call.query.get("since"), "since")


def _per_customer(row) -> dict[str, Any]:
    """A per-customer result keyed by the customer's external id (``customer``), without
    the internal id."""
    row = jsonable(row)
    row.pop("customer_id")
    return {"customer": row.pop("external_id"), **row}


def rfm(call):
    page = ReportPage.of(call)
    return page.answer(call, call.api().rfm(page.as_of), shape=_per_customer)


def rfm_segments(call):
    return call.api().rfm_segments(_as_of(call))


def clv_predictions(call):
    q, page = call.query, ReportPage.of(call)
    _, predictions = call.api().clv_predict(page.as_of, q.get("horizon"), q.get("time_unit"),
                                            q.get("discount_rate"), q.get("months"))
    return page.answer(call, predictions, shape=_per_customer)


def pareto(call):
    result = jsonable(call.api().pareto(_as_of(call), _since(call)))
    result.pop("curve")
    return result


def kpis(call):
    return jsonable(call.api().kpis(_as_of(call)))


def satisfaction(call):
    return jsonable(call.api().satisfaction(_as_of(call), call.query.get("days")))


def lifecycle(call):
    return call.api().lifecycle_counts(_as_of(call))


def segments(call):
    return jsonable(call.api().segments())


def segment(call):
    api, page = call.api(), ReportPage.of(call)
    name = call.path_params["name"]
    found = jsonable(api.segment(name))
    ids = api.segment_members(name, page.as_of)
    external = call.crm.customers.external_ids_by_id(page.window(ids))
    members = page.answer(call, ids, shape=lambda i: {"customer": external[i]})
    return {**found, "members": [row["customer"] for row in members["items"]],
            "next_cursor": members["next_cursor"]}


def save_segment(call):
    b = call.body
    return jsonable(call.api().save_segment(b["name"], b["condition"], b.get("description"),
                                            b.get("replace", False)))


def remove_segment(call):
    call.api().remove_segment(call.path_params["name"])
    return {"removed": call.path_params["name"]}


def endpoints() -> list[Endpoint]:
    """analytical's endpoints (the ``crmkit_routes`` answer)."""
    as_of = closed_object({"as_of": AS_OF_INSTANT})
    counts = {"type": "object", "additionalProperties": INTEGER}
    score = closed_object({"metric": TEXT, "value": OPTIONAL_NUMBER, "responses": INTEGER,
                           "insufficient": {"type": "boolean"}, "min_sample": INTEGER,
                           "details": counts})
    segment_schema = closed_object({"name": TEXT, "condition": {"type": "object"},
                                    "description": OPTIONAL_TEXT, "updated_at": INSTANT})
    return [
        Endpoint("GET", "rfm", rfm, READ,
                 "RFM scores and segment of every customer with a purchase, by customer, a "
                 "page at a time.",
                 query_schema=report_query(), response_schema=report_page_schema(closed_object({
                     "customer": TEXT, "recency_days": INTEGER, "frequency": INTEGER,
                     "monetary": DECIMAL, "r": INTEGER, "f": INTEGER, "m": INTEGER,
                     "segment": OPTIONAL_TEXT}))),
        Endpoint("GET", "rfm/segments", rfm_segments, READ,
                 "Customers per RFM segment, in rule order.",
                 query_schema=as_of, response_schema=counts),
        Endpoint("GET", "clv/predictions", clv_predictions, READ,
                 "Fit BG/NBD and Gamma-Gamma; per customer P(alive), expected purchases and "
                 "spend, and CLV (the run is not stored), by customer, a page at a time "
                 "(the pages after the first reuse its fit while nothing is recorded, merged "
                 "or erased meanwhile; otherwise they fit again at the cursor's as_of).",
                 query_schema=report_query(_clv_options()),
                 response_schema=report_page_schema(closed_object({
                     "customer": TEXT, "frequency": INTEGER, "recency": NUMBER, "T": NUMBER,
                     "monetary": DECIMAL, "p_alive": NUMBER, "expected_purchases": NUMBER,
                     "expected_spend": DECIMAL, "clv": DECIMAL}))),
        Endpoint("GET", "pareto", pareto, READ,
                 "Revenue concentration: the top customers' share and the customers making "
                 "the revenue target.",
                 query_schema=closed_object({"as_of": AS_OF_INSTANT, "since": INSTANT}),
                 response_schema=closed_object({
                     "customers": INTEGER, "revenue": DECIMAL, "top_share": NUMBER,
                     "top_customers": INTEGER, "top_revenue_share": OPTIONAL_NUMBER,
                     "revenue_target": NUMBER, "customers_for_target": INTEGER,
                     "customer_share_for_target": OPTIONAL_NUMBER})),
        Endpoint("GET", "kpis", kpis, READ, "Every configured KPI measured at as_of.",
                 query_schema=as_of, response_schema={"type": "array", "items": closed_object({
                     "name": TEXT, "metric": TEXT, "period": TEXT, "period_start": INSTANT,
                     "measured_at": INSTANT, "value": OPTIONAL_NUMBER, "target": NUMBER,
                     "direction": TEXT, "attainment": OPTIONAL_NUMBER, "status": TEXT,
                     "owner": OPTIONAL_TEXT, "deadline": INSTANT, "note": OPTIONAL_TEXT,
                     "measure": TEXT})}),
        Endpoint("GET", "satisfaction", satisfaction, READ,
                 "NPS, CSAT and CES over the satisfaction window.",
                 query_schema=closed_object({"as_of": AS_OF_INSTANT, "days": {"type": "integer",
                                                                      "minimum": 1,
                                                                      "maximum": 36_500}}),
                 response_schema=closed_object({"nps": score, "csat": score, "ces": score})),
        Endpoint("GET", "lifecycle", lifecycle, READ,
                 "Customers per lifecycle stage computed from purchase history.",
                 query_schema=as_of, response_schema=counts),
        Endpoint("GET", "segments", segments, READ, "The saved segments.",
                 response_schema={"type": "array", "items": segment_schema}),
        Endpoint("POST", "segments", save_segment, WRITE,
                 "Save a segment: a named condition over customers.",
                 body_schema=closed_object({"name": TEXT, "condition": {"type": "object"},
                                            "description": OPTIONAL_TEXT,
                                            "replace": {"type": "boolean", "default": False}},
                                           ("name", "condition")),
                 response_schema=segment_schema, status=201),
        Endpoint("GET", "segments/{name}", segment, READ,
                 "One saved segment and its members (external ids) at as_of, a page of "
                 "members at a time.",
                 query_schema=report_query(),
                 response_schema={**segment_schema, "properties": {
                     **segment_schema["properties"],
                     "members": {"type": "array", "items": TEXT},
                     "next_cursor": {"type": ["string", "null"]}}}),
        Endpoint("DELETE", "segments/{name}", remove_segment, WRITE, "Delete a saved segment.",
                 response_schema=closed_object({"removed": TEXT})),
    ]
