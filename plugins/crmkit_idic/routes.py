"""idic's HTTP routes, mounted under ``/api/v1/idic/``.

Identify (duplicate candidates, dismissing a pair), differentiate (run it,
the groups and one customer's group), interact (contacts due, recording a
dialogue), customise (treatments), and the IDIC report with each customer's
progress.  Every handler calls the public API (``call.api()``), which holds
the rules.  A member not allowed ``customers.pii`` on a customer (their role lacks it, or a
plugin's row-level rule refuses it on that customer) sees its name masked (``***``), and a
duplicate pair's reasons without the values that matched unless allowed it on both
customers; a list asks per customer, reading its customers in two queries
(``crm.auth.access_by_external_id``).  The groups and the contacts due are answered a page
at a time (``ReportPage``, the cursor keeping the first page's ``as_of``).  A customer a
plugin's row-level rule hides from the member (``customers.read``) is left out of the lists
(with every duplicate pair it is in),
and naming it (its group, progress and dialogues; a pair to dismiss) is a 404 like an
unknown customer (``crm.auth.named_customer``).
"""

from __future__ import annotations

from typing import Any

from crmkit.plugin import (INSTANT, INTEGER, MASK, OPTIONAL_INSTANT, OPTIONAL_TEXT, TEXT,
                           Endpoint, ReportPage, closed_object, jsonable, report_page_schema,
                           report_query, timestamp_or_none)

READ = "idic.read"
WRITE = "idic.write"

PERMISSIONS = {
    READ: "See duplicate candidates, value and needs groups, contacts due, treatments, "
          "progress and the IDIC report.",
    WRITE: "Run the differentiation, dismiss duplicate pairs and record dialogues.",
}

DECIMAL = {"type": ["string", "null"], "description": "An exact decimal number."}
BOOLEAN = {"type": "boolean"}
COUNTS = {"type": "object", "additionalProperties": INTEGER}


def _as_of(call):
    return timestamp_or_none(call.query.get("as_of"), "as_of")


AS_OF = closed_object({"as_of": INSTANT})
PROGRESS = closed_object({"customer": TEXT, "name": OPTIONAL_TEXT, "identified": BOOLEAN,
                          "differentiated": BOOLEAN, "interacted": BOOLEAN, "customised": BOOLEAN,
                          "score": INTEGER})


def _masked_name(name: str | None) -> str | None:
    return name if name in (None, "") else MASK


def groups(call):
    page = ReportPage.of(call)
    return page.answer(call, call.api().groups(page.as_of, call.query.get("group")),
                       personal=("name",))


def group_of(call):
    customer = call.path_params["customer"]
    return {"customer": customer, "value_group": call.api().group_of(
        customer, _as_of(call))}


def differentiate(call):
    body = call.body or {}
    done = call.api().differentiate(timestamp_or_none(body.get("as_of"), "as_of"))
    return jsonable({"run_id": done.run_id, "as_of": done.as_of, "value_groups": done.counts,
                     "needs_groups": done.needs_counts, "changed": done.changed,
                     "clv_missing": done.clv_missing})


def _due_row(contact) -> dict[str, Any]:
    row = jsonable(contact)
    row.pop("customer_id")
    return row


def due(call):
    page = ReportPage.of(call)
    return page.answer(call, call.api().due(page.as_of, call.query.get("group")),
                       personal=("name",), shape=_due_row)


def record_dialogue(call):
    b = call.body
    dialogue_id = call.api().record_dialogue(
        call.path_params["customer"], b.get("summary"), b.get("channel"),
        timestamp_or_none(b.get("at"), "at"), b.get("direction", "outbound"))
    return {"customer": call.path_params["customer"], "dialogue_id": dialogue_id}


def _pair(pair, shown: dict[str | None, bool]) -> dict[str, Any]:
    """One duplicate pair as the caller may see it (``shown``: whose personal data, by
    external id, ``crm.auth.access_by_external_id``; both customers in it): a name
    masked without ``customers.pii`` on its customer, and the reasons without the values
    that matched unless allowed it on both."""
    first, second = shown[pair.first], shown[pair.second]
    return {"first": pair.first, "second": pair.second,
            "first_name": pair.first_name if first else _masked_name(pair.first_name),
            "second_name": pair.second_name if second else _masked_name(pair.second_name),
            "score": pair.score,
            "reasons": list(pair.reasons if first and second else pair.reason_kinds)}


def duplicates(call):
    found = call.api().find_duplicates(call.query.get("min_score"))
    shown = call.crm.auth.access_by_external_id(
        call.principal, {ref for p in found.pairs for ref in (p.first, p.second)})
    return jsonable({"pairs": [_pair(p, shown) for p in found.pairs
                               if p.first in shown and p.second in shown],
                     "compared": found.compared,
                     "skipped_blocks": [{"key": key, "records": size}
                                        for key, size in found.skipped_blocks]})


def dismiss(call):
    pair = [call.crm.auth.named_customer(call.principal, call.body[key])
            for key in ("first", "second")]
    call.api().dismiss(*pair)
    return {"dismissed": pair}


def treatments(call):
    return jsonable(call.api().treatments())


def _progress(found) -> dict[str, Any]:
    return {**jsonable(found), "score": found.score}


def progress(call):
    found = _progress(call.api().progress(call.path_params["customer"], _as_of(call)))
    return call.crm.auth.rows_as_seen(call.principal, [found], ("name",))[0]


def report(call):
    return jsonable(call.api().report(_as_of(call)))


def endpoints() -> list[Endpoint]:
    """idic's endpoints (the ``crmkit_routes`` answer)."""
    return [
        Endpoint("GET", "duplicates", duplicates, READ,
                 "Candidate duplicate customers, best first, each with a score and reasons.",
                 query_schema=closed_object({"min_score": {"type": "number"}}),
                 response_schema=closed_object({
                     "pairs": {"type": "array", "items": closed_object({
                         "first": TEXT, "second": TEXT, "first_name": OPTIONAL_TEXT,
                         "second_name": OPTIONAL_TEXT, "score": {"type": "number"},
                         "reasons": {"type": "array", "items": TEXT}})},
                     "compared": INTEGER,
                     "skipped_blocks": {"type": "array", "items": closed_object(
                         {"key": TEXT, "records": INTEGER})}})),
        Endpoint("POST", "duplicates/dismiss", dismiss, WRITE,
                 "Record that two customers are different people (no longer listed).",
                 body_schema=closed_object({"first": TEXT, "second": TEXT}, ("first", "second")),
                 response_schema=closed_object({"dismissed": {"type": "array", "items": TEXT}})),
        Endpoint("POST", "differentiations", differentiate, WRITE,
                 "Group every customer by value and needs; saved as a run.",
                 body_schema=closed_object({"as_of": INSTANT}),
                 response_schema=closed_object({
                     "run_id": {"type": ["integer", "null"]}, "as_of": INSTANT,
                     "value_groups": COUNTS, "needs_groups": COUNTS, "changed": INTEGER,
                     "clv_missing": OPTIONAL_TEXT}),
                 status=201),
        Endpoint("GET", "groups", groups, READ,
                 "Members of the latest differentiation at or before as_of, by customer, a "
                 "page at a time.",
                 query_schema=report_query({"group": TEXT}),
                 response_schema=report_page_schema(closed_object({
                     "customer": TEXT, "name": OPTIONAL_TEXT, "value_group": TEXT,
                     "needs_group": OPTIONAL_TEXT, "current_value": DECIMAL,
                     "potential_value": DECIMAL, "cost_to_serve": DECIMAL}))),
        Endpoint("GET", "customers/{customer}/group", group_of, READ,
                 "A customer's value group in the latest differentiation.",
                 query_schema=AS_OF,
                 response_schema=closed_object({"customer": TEXT, "value_group": OPTIONAL_TEXT})),
        Endpoint("GET", "due", due, READ,
                 "Customers due for contact under their group's contact plan, a page at a "
                 "time.",
                 query_schema=report_query({"group": TEXT}),
                 response_schema=report_page_schema(closed_object({
                     "customer": TEXT, "name": OPTIONAL_TEXT, "value_group": TEXT,
                     "needs_group": OPTIONAL_TEXT, "plan": TEXT, "frequency_days": INTEGER,
                     "channel": TEXT, "last_contact": OPTIONAL_INSTANT,
                     "days_since": {"type": ["integer", "null"]}}))),
        Endpoint("POST", "customers/{customer}/dialogues", record_dialogue, WRITE,
                 "Record a dialogue with a customer (outbound needs consent on the channel).",
                 body_schema=closed_object({"summary": TEXT, "channel": TEXT, "at": INSTANT,
                                            "direction": TEXT}),
                 response_schema=closed_object({"customer": TEXT, "dialogue_id": INTEGER}),
                 status=201),
        Endpoint("GET", "treatments", treatments, READ, "Every treatment with its arm sizes.",
                 response_schema={"type": "array", "items": closed_object({
                     "id": INTEGER, "name": TEXT, "group": TEXT, "type": TEXT, "detail": TEXT,
                     "holdout_share": {"type": "number"}, "start": INSTANT,
                     "end": OPTIONAL_INSTANT, "treated": INTEGER, "held_out": INTEGER})}),
        Endpoint("GET", "customers/{customer}/progress", progress, READ,
                 "One customer's IDIC progress: the steps reached (0–4).",
                 query_schema=AS_OF, response_schema=PROGRESS),
        Endpoint("GET", "report", report, READ,
                 "The IDIC report: identification, groups, contacts due, treatments, progress.",
                 query_schema=AS_OF, response_schema={"type": "object"}),
    ]
