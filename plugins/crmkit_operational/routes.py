"""operational's HTTP routes, mounted under ``/api/v1/operational/``.

Leads, opportunities, tasks and cases: list, get, create and move, plus the
weighted pipeline.  Every handler calls the public API (``call.api()``);
the rules (stages, money, SLAs, who may be assigned) live there, so a body
schema states only the shape.

Row-level rule: a staff member without ``operational.all`` reaches only the
leads and opportunities they own and the tasks and cases assigned to them;
another's is "not found" (404, so that nobody learns it exists), and lists
hold only their own.

Personal text: a member not allowed ``customers.pii`` on a customer (their role lacks it,
or a plugin's row-level rule refuses it on that customer's full document) reads as ``***``
that customer's name in the lead list, and the name of each of their opportunities and the
subject of each of their tasks and cases (free text that may name or quote them, which
erasure clears) in every list, single record and write's answer, which the board and My work
show (through these handlers); the customer card asks the same (:func:`personal_text`).  A
list asks per customer, reading its customers in two queries
(``crm.auth.access_by_external_id``), never per row, and leaves out the rows of a customer a
plugin's row-level rule hides from the member (``customers.read``).  That customer does not
exist for the member anywhere (``crm.auth.named_customer``): ``?customer=``, a body's
``customer`` and its lead's path are a 404 like an unknown customer, and its opportunities,
tasks and cases by id a 404 like an unknown record, their writes included.
"""

from __future__ import annotations

from typing import Any, Callable

from crmkit.plugin import (DECIMAL, INSTANT, MASK, OPTIONAL_INSTANT, OPTIONAL_TEXT, TEXT,
                           Endpoint, NotFound, closed_object, jsonable, parse_timestamp,
                           record_id, timestamp_or_none)

from .pipeline import DIMENSIONS

READ = "operational.read"
WRITE = "operational.write"
ALL_RECORDS = "operational.all"

PERMISSIONS = {
    READ: "See leads, opportunities, tasks, cases and the pipeline.",
    WRITE: "Create and move leads, opportunities, tasks and cases.",
    ALL_RECORDS: "Reach every lead, opportunity, task and case, not only one's own "
                 "(without it a staff member reaches only those they own or are assigned).",
}

# -- JSON Schemas ----------------------------------------------------------------------------

MONEY_IN = {"type": ["string", "integer"],
            "description": "An exact decimal number as text (\"1200.50\") or a whole number."}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
         "description": "Most rows to return."}
CUSTOMER_FILTER = {"type": "string", "description": "Only this customer's (external id)."}


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


HISTORY = _listing(closed_object({"from_stage": OPTIONAL_TEXT, "to_stage": TEXT, "at": INSTANT,
                                  "actor": TEXT}))
LEAD_ROW = closed_object({"customer": TEXT, "name": OPTIONAL_TEXT, "stage": TEXT, "score": DECIMAL,
                          "owner": OPTIONAL_TEXT, "scored_at": OPTIONAL_INSTANT})
LEAD = closed_object({"customer": TEXT, "stage": TEXT, "score": DECIMAL,
                      "scored_at": OPTIONAL_INSTANT, "owner": OPTIONAL_TEXT, "created_at": INSTANT,
                      "updated_at": INSTANT, "source": OPTIONAL_TEXT, "history": HISTORY})
OPPORTUNITY = closed_object({
    "id": {"type": "integer"}, "customer": TEXT, "name": TEXT, "stage": TEXT, "amount": DECIMAL,
    "currency": TEXT, "owner": OPTIONAL_TEXT,
    "expected_close": {"type": ["string", "null"], "format": "date"},
    "renewal_of": {"type": ["integer", "null"]}, "created_at": INSTANT, "updated_at": INSTANT,
    "closed_at": OPTIONAL_INSTANT})
OPPORTUNITY_WITH_HISTORY = {**OPPORTUNITY, "properties": {**OPPORTUNITY["properties"],
                                                          "history": HISTORY}}
TASK = closed_object({
    "id": {"type": "integer"}, "customer": TEXT, "subject": TEXT, "kind": TEXT,
    "assignee": OPTIONAL_TEXT, "due_at": INSTANT, "status": TEXT, "source": OPTIONAL_TEXT,
    "created_at": INSTANT, "closed_at": OPTIONAL_INSTANT})
CASE = closed_object({
    "id": {"type": "integer"}, "customer": TEXT, "subject": TEXT, "priority": TEXT,
    "status": TEXT, "source": OPTIONAL_TEXT, "interaction_id": {"type": ["integer", "null"]},
    "assignee": OPTIONAL_TEXT, "opened_at": INSTANT, "first_response_due": INSTANT,
    "resolution_due": INSTANT, "first_response_at": OPTIONAL_INSTANT,
    "resolved_at": OPTIONAL_INSTANT, "closed_at": OPTIONAL_INSTANT,
    "first_response_breached_at": OPTIONAL_INSTANT, "resolution_breached_at": OPTIONAL_INSTANT,
    "updated_at": INSTANT})
STAGE_BODY = closed_object({"stage": TEXT}, ("stage",))
STATUS_BODY = closed_object({"status": TEXT}, ("status",))


# -- the row-level rule ------------------------------------------------------------------------


def restricted(principal) -> bool:
    """True when ``principal`` reaches only the records they own (no ``operational.all``)."""
    return not principal.can(ALL_RECORDS)


def permission_allowed(principal, permission: str, resource: dict | None) -> bool | None:
    """The ``crmkit_permission_allowed`` answer: False for another's record, else no opinion.

    ``resource`` is ``{"owner": handle}`` (the owner of a lead or opportunity, the
    assignee of a task or case) for an operational permission.
    """
    if (resource is None or "owner" not in resource or not permission.startswith("operational.")
            or not restricted(principal) or resource["owner"] == principal.handle):
        return None
    return False


def permission_restricted(principal, permission: str) -> bool:
    """The ``crmkit_permission_restricted`` answer: whether :func:`permission_allowed` may
    refuse ``principal`` ``permission`` (another's record, for one restricted)."""
    return permission.startswith("operational.") and restricted(principal)


def _record(call, permission: str, found: dict[str, Any], owner: str, kind: str
            ) -> dict[str, Any]:
    """``found`` (an opportunity, task or case the path names by id, of the ``kind``) once
    the caller may ``permission`` it; else NotFound with the very text of a record that does
    not exist: one of a customer a plugin's row-level rule hides from the caller
    (``crm.auth.named_customer``) or, restricted, another's (``owner``: the field naming
    whose it is)."""
    missing = f"no {kind} with id {found['id']}"
    call.crm.auth.named_customer(call.principal, found["customer"], missing)
    _require_own(call, permission, found[owner], missing)
    return found


def _require_own(call, permission: str, owner: str | None, missing: str) -> None:
    """``call.require(permission)`` on a record of ``owner``; another's record is NotFound with
    ``missing``, the very text of a record that does not exist (nothing tells them apart)."""
    try:
        call.require(permission, {"owner": owner})
    except NotFound:
        raise NotFound(missing) from None


def _visible(call, field: str, read: Callable[[str | None], list]) -> list:
    """The rows ``read(owner)`` lists for the owner the query names in ``field`` (``owner``,
    ``assignee``; None: everyone's): a restricted member gets only their own rows, and none
    when the query asks for someone else's."""
    asked = call.query.get(field)
    if not restricted(call.principal):
        return read(asked)
    if asked not in (None, call.principal.handle):
        return []
    return read(call.principal.handle)


def _as_of(call):
    return timestamp_or_none(call.query.get("as_of"), "as_of")


# -- personal text -----------------------------------------------------------------------------


def personal_text(crm, principal, customer: dict[str, Any], text: str) -> str:
    """``text``, free text about ``customer`` (an opportunity's name, a task's or case's
    subject, which may name or quote them and which erasure clears), as ``principal`` may
    read it: ``***`` unless allowed ``customers.pii`` on ``customer`` (its full document, as
    ``crm.customers.documents`` gives it: row-level rules may ask any of its fields)."""
    return text if crm.auth.allowed(principal, "customers.pii", customer) else MASK


def _document(row: dict[str, Any], field: str, personal: bool) -> dict[str, Any]:
    """An opportunity (``field``: ``name``), task or case (``subject``) JSON-ready and without
    the internal customer id (URLs and bodies carry external ids), ``field`` reading ``***``
    unless ``personal`` (the caller may see its customer's personal data)."""
    return jsonable({k: v for k, v in row.items() if k != "customer_id"}
                    | {field: row[field] if personal else MASK})


def _shown_all(call, rows: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Opportunities, tasks or cases as the caller may see them in a list (the rules asked
    once per customer on its full document): the rows of a customer a plugin's row-level rule
    hides from the caller (``customers.read``) left out, ``field`` reading ``***`` unless the
    caller is allowed ``customers.pii`` on the row's customer (:func:`_document`)."""
    access = call.crm.auth.access_by_external_id(call.principal, {r["customer"] for r in rows})
    return [_document(row, field, access[row["customer"]])
            for row in rows if row["customer"] in access]


def _shown(call, row: dict[str, Any], field: str) -> dict[str, Any]:
    """One opportunity, task or case as the caller may see it: ``field`` reads ``***`` unless
    the caller is allowed ``customers.pii`` on its customer (:func:`_document`)."""
    access = call.crm.auth.access_by_external_id(call.principal, [row["customer"]])
    return _document(row, field, bool(access.get(row["customer"])))


def _named_customer(call, customer: str | None) -> str | None:
    """``customer`` (``?customer=``, a body's), if any, once ``crm.auth.named_customer``
    found it: one a plugin's row-level rule hides from the caller is not found, like an
    unknown one."""
    return call.crm.auth.named_customer(call.principal, customer)


# -- leads -------------------------------------------------------------------------------------


def _lead(call, customer: str, permission: str) -> dict[str, Any]:
    """The lead of ``customer`` after the permission and row-level check (NotFound if none)."""
    missing = f"customer {customer!r} is not in the lead funnel"
    lead = call.api().lead(customer)
    if lead is None:
        raise NotFound(missing)
    _require_own(call, permission, lead["owner"], missing)
    return lead


def _lead_document(call, customer: str) -> dict[str, Any]:
    lead = call.api().lead(customer)
    history = call.api().stage_history("lead", lead.pop("customer_id"))
    return jsonable({"customer": customer, **lead, "history": history})


def list_leads(call):
    q = call.query
    rows = jsonable(_visible(call, "owner", lambda owner: call.api().scores(
        q.get("stage"), q.get("min_score"), q.get("limit", 100), owner)))
    return call.crm.auth.rows_as_seen(call.principal, rows, ("name",))


def get_lead(call):
    customer = call.path_params["customer"]
    _lead(call, customer, READ)
    return _lead_document(call, customer)


def move_lead(call):
    customer = call.path_params["customer"]
    _lead(call, customer, WRITE)
    call.api().set_lead_stage(customer, call.body["stage"])
    return _lead_document(call, customer)


def assign_lead(call):
    customer = call.path_params["customer"]
    _lead(call, customer, WRITE)
    call.api().assign_lead(customer, call.body.get("team"))
    return _lead_document(call, customer)


# -- opportunities -----------------------------------------------------------------------------


def _opportunity(call, permission: str) -> dict[str, Any]:
    found = call.api().opportunity(record_id(call.path_params["opportunity_id"], "opportunity"))
    return _record(call, permission, found, "owner", "opportunity")


def _opportunity_document(call, opportunity_id: int) -> dict[str, Any]:
    api = call.api()
    return {**_shown(call, api.opportunity(opportunity_id), "name"),
            "history": jsonable(api.stage_history("opportunity", opportunity_id))}


def list_opportunities(call):
    q = call.query
    customer = _named_customer(call, q.get("customer"))
    rows = _visible(call, "owner", lambda owner: call.api().opportunities(
        q.get("stage"), owner, customer, q.get("limit", 100)))
    return _shown_all(call, rows, "name")


def create_opportunity(call):
    b = call.body
    close = b.get("expected_close")
    opportunity_id = call.api().create_opportunity(
        _named_customer(call, b["customer"]), b["name"], b["amount"], b.get("currency"),
        b.get("owner", call.principal.handle),
        None if close is None else parse_timestamp(close, "expected_close").date(),
        b.get("stage"))
    return _opportunity_document(call, opportunity_id)


def get_opportunity(call):
    return _opportunity_document(call, _opportunity(call, READ)["id"])


def move_opportunity(call):
    opportunity_id = _opportunity(call, WRITE)["id"]
    renewal = call.api().move_opportunity(opportunity_id, call.body["stage"])
    return {**_opportunity_document(call, opportunity_id), "renewal_id": renewal}


def weighted_pipeline(call):
    """The weighted pipeline; a member without ``operational.all`` sees only their own."""
    owner = call.principal.handle if restricted(call.principal) else None
    return jsonable(call.api().weighted_pipeline(_as_of(call), tuple(call.query["by"]), owner))


# -- tasks -------------------------------------------------------------------------------------


def _task(call, permission: str) -> dict[str, Any]:
    found = call.api().task(record_id(call.path_params["task_id"], "task"))
    return _record(call, permission, found, "assignee", "task")


def list_tasks(call):
    q = call.query
    customer, status = _named_customer(call, q.get("customer")), q.get("status", "open")
    rows = _visible(call, "assignee", lambda assignee: call.api().tasks(
        q.get("overdue", False), assignee, None if status == "all" else status,
        customer, _as_of(call), q.get("limit", 100)))
    return _shown_all(call, rows, "subject")


def create_task(call):
    b = call.body
    task_id = call.api().create_task(_named_customer(call, b["customer"]), b["subject"],
                                     b.get("assignee", call.principal.handle),
                                     parse_timestamp(b["due_at"], "due_at"))
    return _shown(call, call.api().task(task_id), "subject")


def get_task(call):
    return _shown(call, _task(call, READ), "subject")


def close_task(call):
    task_id = _task(call, WRITE)["id"]
    if call.body["status"] == "cancelled":
        call.api().cancel_task(task_id)
    else:
        call.api().complete_task(task_id)
    return _shown(call, call.api().task(task_id), "subject")


# -- cases -------------------------------------------------------------------------------------


def _case(call, permission: str) -> dict[str, Any]:
    found = call.api().case(record_id(call.path_params["case_id"], "case"))
    return _record(call, permission, found, "assignee", "case")


def list_cases(call):
    q = call.query
    customer = _named_customer(call, q.get("customer"))
    rows = _visible(call, "assignee", lambda assignee: call.api().cases(
        q.get("status"), assignee, customer, q.get("limit", 100)))
    return _shown_all(call, rows, "subject")


def open_case(call):
    b = call.body
    case_id = call.api().open_case(_named_customer(call, b["customer"]), b["subject"],
                                   b.get("priority", "normal"), b.get("source"))
    return _shown(call, call.api().case(case_id), "subject")


def get_case(call):
    return _shown(call, _case(call, READ), "subject")


def move_case(call):
    case_id = _case(call, WRITE)["id"]
    call.api().move_case(case_id, call.body["status"])
    return _shown(call, call.api().case(case_id), "subject")


def respond_to_case(call):
    case_id = _case(call, WRITE)["id"]
    first = call.api().respond(case_id)
    return {**_shown(call, call.api().case(case_id), "subject"), "first_response": first}


# -- the endpoints -----------------------------------------------------------------------------


def endpoints() -> list[Endpoint]:
    """operational's endpoints (the ``crmkit_routes`` answer)."""
    lead_path, opp_path = "leads/{customer}", "opportunities/{opportunity_id}"
    task_path, case_path = "tasks/{task_id}", "cases/{case_id}"
    return [
        Endpoint("GET", "leads", list_leads, READ, "Leads with their stored scores, highest first.",
                 query_schema=closed_object({"stage": TEXT, "min_score": {"type": "number"},
                                             "owner": TEXT, "limit": LIMIT}),
                 response_schema=_listing(LEAD_ROW)),
        Endpoint("GET", lead_path, get_lead, READ,
                 "A customer's lead: stage, score, owner and stage history.",
                 response_schema=LEAD),
        Endpoint("POST", f"{lead_path}/stage", move_lead, WRITE,
                 "Move a lead to a stage (lead, mql, sal, sql, disqualified).",
                 body_schema=STAGE_BODY, response_schema=LEAD),
        Endpoint("POST", f"{lead_path}/assign", assign_lead, WRITE,
                 "Assign or reassign a lead, within a team or by territory.",
                 body_schema=closed_object({"team": TEXT}), response_schema=LEAD),
        Endpoint("GET", "opportunities", list_opportunities, READ, "Opportunities, newest first.",
                 query_schema=closed_object({"stage": TEXT, "owner": TEXT,
                                                   "customer": CUSTOMER_FILTER, "limit": LIMIT}),
                 response_schema=_listing(OPPORTUNITY)),
        Endpoint("POST", "opportunities", create_opportunity, WRITE,
                 "Create an opportunity (owner: the caller unless given).",
                 body_schema=closed_object({"customer": TEXT, "name": TEXT, "amount": MONEY_IN,
                                            "currency": TEXT, "owner": TEXT,
                                            "expected_close": {"type": "string", "format": "date"},
                                            "stage": TEXT}, ("customer", "name", "amount")),
                 response_schema=OPPORTUNITY_WITH_HISTORY, status=201),
        Endpoint("GET", opp_path, get_opportunity, READ, "One opportunity with its stage history.",
                 response_schema=OPPORTUNITY_WITH_HISTORY),
        Endpoint("POST", f"{opp_path}/stage", move_opportunity, WRITE,
                 "Move an opportunity to a stage (won and lost are final).",
                 body_schema=STAGE_BODY,
                 response_schema={**OPPORTUNITY_WITH_HISTORY, "properties": {
                     **OPPORTUNITY_WITH_HISTORY["properties"],
                     "renewal_id": {"type": ["integer", "null"]}}}),
        Endpoint("GET", "pipeline", weighted_pipeline, READ,
                 "Weighted pipeline: amount × win probability of the open opportunities.",
                 query_schema=closed_object({
                     "by": {"type": "array", "items": {"enum": list(DIMENSIONS)}, "minItems": 1,
                            "default": ["stage"], "description": "Group by (repeatable)."},
                     "as_of": INSTANT}),
                 response_schema=_listing({"type": "object", "properties": {
                     "currency": TEXT, "opportunities": {"type": "integer"}, "amount": DECIMAL,
                     "weighted": DECIMAL, "probability": {"type": "integer"}}})),
        Endpoint("GET", "tasks", list_tasks, READ, "Tasks by due time.",
                 query_schema=closed_object({"overdue": {"type": "boolean", "default": False},
                                             "assignee": TEXT,
                                             "status": {"enum": ["open", "done", "cancelled",
                                                                 "all"], "default": "open"},
                                             "customer": CUSTOMER_FILTER, "as_of": INSTANT,
                                             "limit": LIMIT}),
                 response_schema=_listing(TASK)),
        Endpoint("POST", "tasks", create_task, WRITE,
                 "Create a task (assignee: the caller unless given).",
                 body_schema=closed_object({"customer": TEXT, "subject": TEXT,
                                            "assignee": OPTIONAL_TEXT, "due_at": INSTANT},
                                           ("customer", "subject", "due_at")),
                 response_schema=TASK, status=201),
        Endpoint("GET", task_path, get_task, READ, "One task.", response_schema=TASK),
        Endpoint("POST", f"{task_path}/status", close_task, WRITE,
                 "Close an open task as done or cancelled.",
                 body_schema=closed_object({"status": {"enum": ["done", "cancelled"]}},
                                           ("status",)),
                 response_schema=TASK),
        Endpoint("GET", "cases", list_cases, READ, "Service cases, newest first.",
                 query_schema=closed_object({"status": TEXT, "assignee": TEXT,
                                             "customer": CUSTOMER_FILTER, "limit": LIMIT}),
                 response_schema=_listing(CASE)),
        Endpoint("POST", "cases", open_case, WRITE, "Open a service case (SLA due times set).",
                 body_schema=closed_object({"customer": TEXT, "subject": TEXT, "priority": TEXT,
                                            "source": TEXT}, ("customer", "subject")),
                 response_schema=CASE, status=201),
        Endpoint("GET", case_path, get_case, READ, "One service case.", response_schema=CASE),
        Endpoint("POST", f"{case_path}/status", move_case, WRITE,
                 "Move a case (open → in_progress → resolved → closed; reopen).",
                 body_schema=STATUS_BODY, response_schema=CASE),
        Endpoint("POST", f"{case_path}/respond", respond_to_case, WRITE,
                 "Record the first response to a case now.",
                 response_schema={**CASE, "properties": {**CASE["properties"],
                                                         "first_response": {"type": "boolean"}}}),
    ]
