"""valuechain's HTTP routes, mounted under ``/api/v1/valuechain/``.

Buttle's value chain: the report, each stage's check (complete, reopen),
strategically significant customers (suggest, mark, unmark), the network,
value propositions, lifecycle actions and the supporting conditions'
ratings.  Every handler calls the public API (``call.api()``), which holds
the rules; a stage is given as 1–5 or by its key (portfolio, intimacy, …).
A member not allowed ``customers.pii`` on a customer sees its name masked (``***``).  A
customer a plugin's row-level rule hides from the member (``customers.read``) is left out of
the suggestions, the SSCs, the network and a stage check's least complete SSCs (the rules
asked once per customer of a list: ``crm.auth.access_by_external_id``), and is a 404 like an
unknown customer wherever a request names it (its path, a body's ``customer``:
``crm.auth.named_customer``).
"""

from __future__ import annotations

from typing import Any, Iterable

from crmkit.plugin import (INSTANT, INTEGER, OPTIONAL_TEXT, PII_FIELDS, TEXT, Endpoint,
                           ReportPage, closed_object, jsonable, report_page_schema, report_query,
                           timestamp_or_none)

READ = "valuechain.read"
WRITE = "valuechain.write"

PERMISSIONS = {
    READ: "See the value chain report, stage checks, SSCs, network, propositions, actions "
          "and condition ratings.",
    WRITE: "Complete and reopen stages, mark SSCs, record network members, propositions, "
           "actions and condition ratings.",
}


def _as_of(call):
    return timestamp_or_none(call.query.get("as_of"), "as_of")


CHECK = closed_object({"stage": INTEGER, "met": {"type": "boolean"}, "detail": TEXT,
                       "evidence": {"type": "object"}})
SSC = closed_object({"customer": TEXT, "name": OPTIONAL_TEXT, "group": TEXT,
                     "reasons": {"type": "array", "items": TEXT}, "note": OPTIONAL_TEXT,
                     "marked_at": INSTANT})
NETWORK_MEMBER = closed_object({"id": INTEGER, "kind": TEXT, "name": TEXT, "role": TEXT,
                                "group": OPTIONAL_TEXT, "customer": OPTIONAL_TEXT,
                                "recorded_at": INSTANT})
ACTION = closed_object({"group": TEXT, "kind": TEXT, "description": TEXT, "recorded_at": INSTANT})
CONDITIONS = closed_object({"ratings": {"type": "object",
                                        "additionalProperties": {"type": ["integer", "null"]}},
                            "weakest": OPTIONAL_TEXT, "unrated": {"type": "array", "items": TEXT}})


def report(call):
    return jsonable(call.api().report(_as_of(call)))


def _access(call, customers: Iterable[str | None]) -> dict[str | None, bool]:
    """``crm.auth.access_by_external_id`` of the ``customers`` of a list's rows (a network
    member's may be None, which is always in it): a row whose customer is absent is left
    out."""
    return call.crm.auth.access_by_external_id(
        call.principal, {ref for ref in customers if ref is not None})


def _as_seen(call, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (each a ``customer``'s, with its ``name``) as the caller may see them:
    ``crm.auth.rows_as_seen`` with the customer's personal fields."""
    return call.crm.auth.rows_as_seen(call.principal, rows, PII_FIELDS)


def _check_as_seen(call, result) -> dict[str, Any]:
    """A stage's check as the caller may see it: the least complete SSCs of its evidence
    (stage 2) without those a plugin's row-level rule hides (:func:`_access`)."""
    found = jsonable(result)
    weakest = found["evidence"].get("least_complete")
    if weakest:
        access = _access(call, (ref for ref, _ in weakest))
        found["evidence"]["least_complete"] = [pair for pair in weakest if pair[0] in access]
    return found


def check(call):
    return _check_as_seen(call, call.api().check(call.path_params["stage"]))


def complete(call):
    return _check_as_seen(call, call.api().complete(call.path_params["stage"]))


def reopen(call):
    return {"reopened": call.api().reopen(call.path_params["stage"])}


def suggestions(call):
    page = ReportPage.of(call)
    return page.answer(call, call.api().suggest_ssc(page.as_of, call.query.get("top_share")),
                       personal=PII_FIELDS)


def sscs(call):
    return _as_seen(call, jsonable(call.api().sscs()))


def _ssc(call, customer: str) -> dict[str, Any]:
    [found] = [s for s in call.api().sscs() if s.customer == customer]
    return _as_seen(call, [jsonable(found)])[0]


def mark(call):
    b = call.body
    customer = call.crm.auth.named_customer(call.principal, b["customer"])
    call.api().mark_ssc(customer, b["reasons"], b.get("group"), b.get("note"))
    return _ssc(call, customer)


def unmark(call):
    call.api().unmark_ssc(call.path_params["customer"])
    return {"unmarked": call.path_params["customer"]}


def network(call):
    return call.crm.auth.rows_as_seen(call.principal, jsonable(call.api().network()))


def add_network_member(call):
    b = call.body
    member_id = call.api().add_network_member(
        b["kind"], b["name"], b["role"], b.get("group"),
        call.crm.auth.named_customer(call.principal, b.get("customer")))
    [found] = [m for m in call.api().network() if m["id"] == member_id]
    return jsonable(found)


def propositions(call):
    return call.api().propositions()


def set_proposition(call):
    call.api().set_proposition(call.path_params["group"], call.body["text"])
    return call.api().propositions()


def actions(call):
    return jsonable(call.api().actions())


def add_action(call):
    b = call.body
    return {"id": call.api().add_action(b["group"], b["kind"], b["description"])}


def conditions(call):
    return jsonable(call.api().conditions(_as_of(call)))


def rate(call):
    call.api().rate(call.path_params["condition"], call.body["rating"], call.body.get("note"))
    return jsonable(call.api().conditions())


def endpoints() -> list[Endpoint]:
    """valuechain's endpoints (the ``crmkit_routes`` answer)."""
    as_of = closed_object({"as_of": INSTANT})
    return [
        Endpoint("GET", "report", report, READ,
                 "The chain's progress, the blocking stage and the weakest supporting condition.",
                 query_schema=as_of, response_schema={"type": "object"}),
        Endpoint("GET", "stages/{stage}", check, READ,
                 "A stage's check on the current records (stage 1–5 or its key).",
                 response_schema=CHECK),
        Endpoint("POST", "stages/{stage}/complete", complete, WRITE,
                 "Complete a stage (the previous one must be complete and the check met).",
                 response_schema=CHECK),
        Endpoint("POST", "stages/{stage}/reopen", reopen, WRITE,
                 "Reopen a completed stage and every later one.",
                 response_schema=closed_object({"reopened": {"type": "array", "items": INTEGER}})),
        Endpoint("GET", "suggestions", suggestions, READ,
                 "High-value SSC candidates from predicted CLV, best first, a page at a time.",
                 query_schema=report_query({"top_share": {"type": "number"}}),
                 response_schema=report_page_schema(closed_object({
                     "rank": INTEGER, "customer": TEXT, "name": OPTIONAL_TEXT,
                     "clv": {"type": "string"}, "marked": {"type": "boolean"}}))),
        Endpoint("GET", "sscs", sscs, READ, "Every strategically significant customer.",
                 response_schema={"type": "array", "items": SSC}),
        Endpoint("POST", "sscs", mark, WRITE,
                 "Mark a customer as strategically significant, with reasons.",
                 body_schema=closed_object({"customer": TEXT,
                                            "reasons": {"type": "array", "items": TEXT},
                                            "group": TEXT, "note": TEXT}, ("customer", "reasons")),
                 response_schema=SSC, status=201),
        Endpoint("DELETE", "sscs/{customer}", unmark, WRITE, "Remove a customer's SSC mark.",
                 response_schema=closed_object({"unmarked": TEXT})),
        Endpoint("GET", "network", network, READ,
                 "Suppliers, partners, employees and owners with their roles.",
                 response_schema={"type": "array", "items": NETWORK_MEMBER}),
        Endpoint("POST", "network", add_network_member, WRITE,
                 "Record a network member and its role towards the SSCs.",
                 body_schema=closed_object({"kind": TEXT, "name": TEXT, "role": TEXT, "group": TEXT,
                                            "customer": TEXT}, ("kind", "name", "role")),
                 response_schema=NETWORK_MEMBER, status=201),
        Endpoint("GET", "propositions", propositions, READ,
                 "The value proposition of each SSC group.",
                 response_schema={"type": "object", "additionalProperties": TEXT}),
        Endpoint("PUT", "propositions/{group}", set_proposition, WRITE,
                 "Record (or replace) an SSC group's value proposition; answers every group's.",
                 body_schema=closed_object({"text": TEXT}, ("text",)),
                 response_schema={"type": "object", "additionalProperties": TEXT}),
        Endpoint("GET", "actions", actions, READ,
                 "Acquisition, retention and development actions per SSC group.",
                 response_schema={"type": "array", "items": ACTION}),
        Endpoint("POST", "actions", add_action, WRITE,
                 "Record an acquisition, retention or development action for an SSC group.",
                 body_schema=closed_object({"group": TEXT, "kind": TEXT, "description": TEXT},
                                           ("group", "kind", "description")),
                 response_schema=closed_object({"id": INTEGER}), status=201),
        Endpoint("GET", "conditions", conditions, READ,
                 "Latest supporting-condition ratings, the weakest and the unrated ones.",
                 query_schema=as_of, response_schema=CONDITIONS),
        Endpoint("POST", "conditions/{condition}/ratings", rate, WRITE,
                 "Rate a supporting condition 1–5.",
                 body_schema=closed_object({"rating": INTEGER, "note": TEXT}, ("rating",)),
                 response_schema=CONDITIONS, status=201),
    ]
