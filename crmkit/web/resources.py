"""The core's resources under /api/v1, declared as Endpoints like every plugin's.

Every write goes through the same Python services as the CLI (``crm.customers``,
``crm.interactions``, ``crm.plugins``), so the same pipeline, hooks, validation and audit
apply; the dispatcher runs each write in one transaction audited under the caller.  Customers
are named by external id in every URL and body; for callers without ``customers.pii``
customers' personal fields are masked (``crm.auth.mask_pii``), and so are interactions'
payloads and events' personal payload values (``masked_interaction``,
``crm.auth.event_masker``).  Lists ask plugins' row-level rules per customer
(``crm.auth.customer_access``): the rows of a customer a rule hides are left out, and a rule
refusing ``customers.pii`` on one customer masks that customer's rows.  A customer a rule
hides is answered as an unknown one wherever a request names it: ``?customer=``, its own
routes (whatever their permission), an interaction recorded for it and a customer's
``organisation`` (``crm.auth.named_customer``, ``crm.auth.hidden_customers``).  The event
log shows only the types whose area the caller reads (``crm.events.readable_by``), those of
a plugin whose rule restricts them only the events about a record it allows
(``crm.events.readable``); a customer's timeline, a plugin's entries to a member whose
role reads its area, those a rule restricts there only the entries about a record it allows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from typing import Any

from sqlalchemy import select

from .. import tables
from ..auth import masked_interaction
from ..clock import parse_timestamp
from ..config import describe_error, fill_defaults, schema_errors, schema_validator
from ..customers import MAX_SEARCH_TEXT, CustomerService, search_text_problem
from ..errors import NotFound, PreconditionFailed, ValidationError
from ..models import Customer, jsonable, to_customer
from ..pipeline import ONE_RECORD
from ..types import IDENTIFIER, parse_json, text_problem
from .endpoints import Call, Endpoint, Reply
from .schemas import OPTIONAL_TEXT, is_database_integer

MAX_PAGE_SIZE = 200
"""The most items one page of a listing holds (``limit`` above it is refused)."""
DEFAULT_PAGE_SIZE = 50
MAX_BATCH = 1000
"""The most interactions one ``POST /api/v1/interactions`` list may hold."""

_CUSTOMER_PROPERTIES: dict[str, Any] = {
    "external_id": {"type": "string", "minLength": 1, "maxLength": 200},
    "name": {"type": ["string", "null"], "maxLength": 300},
    "type": {"enum": ["person", "organisation"]},
    "email": {"type": ["string", "null"], "maxLength": 320},
    "phone": {"type": ["string", "null"], "maxLength": 64},
    "organisation": {"type": ["string", "null"], "maxLength": 200,
                     "description": "the external id of the organisation a person belongs to"},
    "preferred_channel": {"type": ["string", "null"], "maxLength": 40},
    "lifecycle_stage": {"type": ["string", "null"], "maxLength": 40},
    "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "attributes": {"type": "object",
                   "description": "validated against the customer attributes schema"},
}
CUSTOMER_CREATE = {"type": "object", "required": ["external_id"],
                   "properties": _CUSTOMER_PROPERTIES, "additionalProperties": False}
CUSTOMER_PATCH = {"type": "object", "minProperties": 1, "additionalProperties": False,
                  "properties": {k: v for k, v in _CUSTOMER_PROPERTIES.items()
                                 if k != "external_id"}}
CUSTOMER = {"type": "object", "properties": {
    **_CUSTOMER_PROPERTIES,
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "erased_at": {"type": ["string", "null"], "format": "date-time"}}}
PAGE = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE}


def _page_of(item: dict[str, Any], cursor: str = "next_cursor") -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": item},
                                             cursor: {"type": ["string", "integer", "null"]}}}


_INTERACTION_PROPERTIES: dict[str, Any] = {
    "customer": {"type": "string", "minLength": 1, "maxLength": 200,
                 "description": "the customer's external id"},
    "occurred_at": {"type": "string", "description": "ISO 8601 (default: now)"},
    "kind": {"type": "string", "minLength": 1, "maxLength": 40, "default": "purchase"},
    "channel": OPTIONAL_TEXT,
    "direction": {"enum": ["inbound", "outbound"]},
    "amount": {"type": ["string", "number", "null"],
               "description": "exact decimal; text keeps every digit"},
    "currency": OPTIONAL_TEXT,
    "external_id": OPTIONAL_TEXT,
    "payload": {"type": ["object", "null"]},
}
INTERACTION_IN = {"type": "object", "required": ["customer"],
                  "properties": _INTERACTION_PROPERTIES, "additionalProperties": False}
INTERACTIONS_IN = {"oneOf": [INTERACTION_IN, {"type": "array", "minItems": 1,
                                              "maxItems": MAX_BATCH, "items": INTERACTION_IN}]}
INTERACTION = {"type": "object", "properties": {
    "id": {"type": "integer"}, **_INTERACTION_PROPERTIES, "actor": OPTIONAL_TEXT,
    "recorded_at": {"type": "string", "format": "date-time"},
    "payload": {"type": ["object", "null", "string"],
                "description": "\"***\" for a caller without customers.pii"}}}
EVENT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "type": {"type": "string"}, "customer": OPTIONAL_TEXT,
    "occurred_at": {"type": "string"}, "source": {"type": "string"},
    "payload": {"type": "object", "description": "without customers.pii, the values its "
                                                 "type declares personal read \"***\""}}}


# -- customers ------------------------------------------------------------------------------


def customer_document(crm, customer: Customer) -> dict[str, Any]:
    """A customer as the API shows it (``crm.customers.documents``)."""
    return crm.customers.documents({customer.id: customer})[customer.id]


def etag(document: dict[str, Any]) -> str:
    """The entity tag of a customer document: a hash of every stored field (quoted)."""
    text = json.dumps(jsonable(document), sort_keys=True, ensure_ascii=False)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _shown(call: Call, customer: Customer, status: int = 200,
           headers: dict[str, str] | None = None) -> Reply:
    return _answer(call, customer_document(call.crm, customer), status, headers)


def _answer(call: Call, document: dict[str, Any], status: int = 200,
            headers: dict[str, str] | None = None) -> Reply:
    """A customer's document as the caller may see it (personal fields masked), with its
    entity tag."""
    return Reply(call.crm.auth.mask_pii(call.principal, document), status,
                 {"ETag": etag(document), **(headers or {})})


def _external_id(call: Call) -> str:
    value = call.path_params["external_id"]
    problem = text_problem(value, IDENTIFIER)
    if problem is not None:
        raise NotFound(f"no customer {value!r}")
    return value


def _visible(call: Call, customer: Customer, permission: str) -> dict[str, Any]:
    """The customer's document, or the NotFound of a missing customer when a plugin's
    row-level rule (``crmkit_permission_allowed``) keeps it from the caller: it hides the
    customer (refuses ``customers.read``, ``crm.auth.customer_access``) or refuses
    ``permission`` on it."""
    document = customer_document(call.crm, customer)
    auth = call.crm.auth
    if (customer.id not in auth.customer_access(call.principal, {customer.id: document})
            or not auth.allowed(call.principal, permission, document)):
        raise NotFound(f"no customer {customer.external_id!r}")
    return document


def _found(call: Call, external_id: str) -> Customer:
    """The customer ``external_id`` names, or the NotFound the caller is told of a missing
    one (``crm.auth.unknown_customer``: it names the customer it was merged into unless a
    plugin's row-level rule hides that one)."""
    try:
        return call.crm.customers.get(external_id)
    except NotFound:
        raise call.crm.auth.unknown_customer(call.principal, external_id) from None


def _customer(call: Call, permission: str, external_id: str | None = None) -> Customer:
    """The customer of the path (or ``external_id``), if the caller may ``permission`` it."""
    customer = _found(call, external_id or _external_id(call))
    _visible(call, customer, permission)
    return customer


def _access(call: Call, customers: dict[int, Customer]) -> dict[int | None, bool]:
    """What the caller may see of the rows of ``customers`` (by internal id) in a list:
    ``crm.auth.customer_access`` on their documents (one query for their organisations)."""
    return call.crm.auth.customer_access(call.principal, call.crm.customers.documents(customers))


def encode_cursor(position: Any) -> str:
    """An opaque page cursor: the position (JSON) after the last item shown."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    """The position a cursor of :func:`encode_cursor` stands for (an id, a text of at most
    200 characters, or a text and an id; ids within the databases' integer range); a
    ValidationError otherwise."""
    try:
        position = parse_json(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
    except ValueError:
        raise bad_cursor(text) from None
    if is_database_integer(position) or isinstance(position, str) and len(position) <= 200 or (
            isinstance(position, list) and len(position) == 2 and isinstance(position[0], str)
            and is_database_integer(position[1])):
        return position
    raise bad_cursor(text)


def bad_cursor(text: str) -> ValidationError:
    """The 422 of a ``cursor`` query parameter that is not one this API handed out."""
    return ValidationError(f"cursor {text!r} is not a cursor this API handed out",
                           [("query", "cursor", "not a cursor this API handed out (pass "
                             "next_cursor of the previous page)")])


def search_customers(call: Call) -> dict[str, Any]:
    """A page of the customers the search finds.  A caller without ``customers.pii`` searches
    only what it may see (external ids and tags): a search by name, email or phone would
    rebuild, one character at a time, what the masks hide."""
    q, tag, limit = call.query.get("q"), call.query.get("tag"), call.query["limit"]
    for name, value in (("q", q), ("tag", tag)):
        problem = None if value is None else text_problem(value)
        if problem is None and name == "q" and value is not None:
            problem = search_text_problem(value)
        if problem is not None:
            raise ValidationError(f"query parameter {name}: {problem}",
                                  [("query", name, problem)])
    after = decode_cursor(call.query["cursor"]) if "cursor" in call.query else None
    if after is not None and not isinstance(after, int):
        raise bad_cursor(call.query["cursor"])
    auth = call.crm.auth
    personal = auth.allowed(call.principal, "customers.pii")
    found = call.crm.customers.search(q, tag=tag, limit=limit + 1, after=after,
                                      personal=personal)
    page = found[:limit]
    documents = call.crm.customers.documents({c.id: c for c in page})
    access = auth.customer_access(call.principal, documents)
    items = []
    for key, document in documents.items():
        if key not in access:
            continue
        if (personal and not access[key]
                and not CustomerService.found_without_personal(document, q)):
            continue  # a plugin masks this one's personal data: not found by it either
        items.append(document if access[key] else auth.masked_customer(document))
    more = len(found) > limit
    return {"items": items, "next_cursor": encode_cursor(page[-1].id) if more else None}


def _hidden_organisation(call: Call) -> set[str]:
    """The body's ``organisation`` when a plugin's row-level rule hides it from the caller
    (``crm.auth.hidden_customers``: the write refuses it as an unknown organisation), else
    nothing."""
    ref = call.body.get("organisation")
    return set() if ref is None else call.crm.auth.hidden_customers(call.principal, [ref])


def create_customer(call: Call) -> Reply:
    body = dict(call.body)
    customer = call.crm.customers.add(body.pop("external_id"), body.pop("name", None),
                                      hidden_customers=_hidden_organisation(call), **body)
    path = urllib.parse.quote(customer.external_id, safe="")
    return _shown(call, customer, 201, {"Location": f"/api/v1/customers/{path}"})


def get_customer(call: Call) -> Reply:
    customer = _found(call, _external_id(call))
    return _answer(call, _visible(call, customer, "customers.read"))


def patch_customer(call: Call) -> Reply:
    external_id = _external_id(call)
    crm = call.crm
    tx = crm.current_transaction()
    c = tables.customers
    row = tx.conn.execute(select(c).where(c.c.external_id == external_id)
                          .with_for_update()).mappings().first()
    if row is None:
        raise crm.auth.unknown_customer(call.principal, external_id)
    document = _visible(call, to_customer(row), "customers.write")
    wanted = call.headers.get("if-match")
    if wanted is not None:
        current = etag(document)
        tags = [t.strip() for t in wanted.split(",")]
        if "*" not in tags and current not in tags:
            raise PreconditionFailed(
                f"customer {external_id!r} changed since the ETag {wanted} was read (now "
                f"{current}): GET it again and repeat the change; nothing was written")
    return _shown(call, crm.customers.update(external_id,
                                             hidden_customers=_hidden_organisation(call),
                                             **call.body))


def customer_timeline(call: Call) -> list[dict[str, Any]]:
    """The customer's timeline as the caller may see it: without ``customers.pii`` (on this
    customer) masked (``crm.customers.timeline(masked=True)``), and only the plugins' entries
    they read (``reader=``, before the limit): each entry's ``resource`` stays out."""
    customer = _customer(call, "customers.read")
    masked = not call.crm.auth.allowed(call.principal, "customers.pii",
                                       customer_document(call.crm, customer))
    entries = call.crm.customers.timeline(customer.external_id, call.query["limit"],
                                          masked=masked, reader=call.principal)
    return [{"at": e.at.isoformat(), "kind": e.kind, "summary": e.summary,
             "details": jsonable(e.details), "source": e.source} for e in entries]


def merge_customer(call: Call) -> Reply:
    keep = _customer(call, "customers.merge")
    duplicate = _customer(call, "customers.merge", call.body["duplicate"])
    keep = call.crm.customers.merge(keep.external_id, duplicate.external_id)
    return _shown(call, keep)


def erase_customer(call: Call) -> Reply:
    return _shown(call, call.crm.customers.erase(_customer(call, "customers.erase").external_id))


def export_customer(call: Call) -> dict[str, Any]:
    """Everything held about the customer; an organisation's people as the caller may see
    them: those a plugin's row-level rule hides left out, the names of those whose personal
    data it refuses masked."""
    call.require("customers.pii")
    external_id = _customer(call, "customers.export").external_id
    auth = call.crm.auth
    document = call.crm.run_transaction(
        lambda tx: call.crm.customers.export_data(external_id), actor=call.principal.handle)
    if "people" in document:
        access = auth.access_by_external_id(call.principal,
                                            [p["external_id"] for p in document["people"]])
        document["people"] = [person if access[person["external_id"]]
                              else auth.masked_customer(person)
                              for person in document["people"] if person["external_id"] in access]
    return document


# -- interactions ---------------------------------------------------------------------------


def interaction_document(interaction, customer: str | None) -> dict[str, Any]:
    """An interaction as the API stores it (its customer by external id); show it as the
    caller may see it (``masked_interaction`` unless allowed ``customers.pii`` on its
    customer)."""
    document = jsonable(interaction)
    document.pop("customer_id")
    return {"id": document.pop("id"), "customer": customer, **document}


def _interaction_rows(call: Call, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = call.crm.clock.now()
    problems = []
    rows = []
    for index, item in enumerate(items):
        row = dict(item, actor=call.principal.handle)
        text = row.get("occurred_at")
        if text is None:
            row["occurred_at"] = now
        else:
            try:
                row["occurred_at"] = parse_timestamp(text, "occurred_at")
            except ValidationError as exc:
                where = ONE_RECORD if isinstance(call.body, dict) else f"row {index + 1}"
                problems.append((where, "occurred_at",
                                 str(exc).removeprefix("occurred_at: ")))
        rows.append(row)
    if problems:
        raise ValidationError.from_problems(problems)
    return rows


def record_interactions(call: Call) -> Reply:
    """Record one interaction or a list; a customer a plugin's row-level rule hides from the
    caller is refused exactly as an unknown one (``crm.auth.hidden_customers``)."""
    crm = call.crm
    items = [call.body] if isinstance(call.body, dict) else call.body
    hidden = crm.auth.hidden_customers(call.principal, {item["customer"] for item in items})
    if isinstance(call.body, dict):
        row = _interaction_rows(call, [call.body])[0]
        interaction = crm.interactions.record(**row, hidden_customers=hidden)
        key = interaction.customer_id
        document = interaction_document(interaction, row["customer"])
        shown = _access(call, crm.customers.by_id([key])).get(key)
        return Reply(document if shown else masked_interaction(document), 201)
    rows = _interaction_rows(call, call.body)
    result = crm.interactions.record_many(rows, batch_size=MAX_BATCH, atomic=True,
                                          hidden_customers=hidden)
    return Reply({"created": result.created, "unchanged": result.unchanged}, 201)


def list_interactions(call: Call) -> dict[str, Any]:
    """A page of interactions, newest first: those of customers a row-level rule hides
    left out, and without ``customers.pii`` on their customer their payloads masked
    (``masked_interaction``), as in the timeline."""
    query, limit = call.query, call.query["limit"]
    try:
        since = parse_timestamp(query["since"], "since") if "since" in query else None
    except ValidationError as exc:
        raise ValidationError(str(exc), [("query", "since", str(exc).removeprefix("since: "))]
                              ) from None
    before = None
    if "cursor" in query:
        position = decode_cursor(query["cursor"])
        if not isinstance(position, list):
            raise bad_cursor(query["cursor"])
        before = (parse_timestamp(position[0], "cursor"), position[1])
    wanted = call.crm.auth.named_customer(call.principal, query.get("customer"))
    found = call.crm.interactions.list(customer=wanted, kind=query.get("kind"),
                                       since=since, limit=limit + 1, before=before)
    page = found[:limit]
    customers = call.crm.customers.by_id(i.customer_id for i in page)
    access = _access(call, customers)
    items = []
    for interaction in page:
        key = interaction.customer_id
        if key in access:
            document = interaction_document(interaction, customers[key].external_id)
            items.append(document if access[key] else masked_interaction(document))
    last = page[-1] if len(found) > limit else None
    return {"items": items, "next_cursor": None if last is None else encode_cursor(
        [last.occurred_at.isoformat(), last.id])}


# -- events and plugins ---------------------------------------------------------------------


def list_events(call: Call) -> dict[str, Any]:
    """A page of stored events, oldest first, of the types the caller may read
    (``crm.events.readable_by``, in SQL: the types hidden take no place in the page): of
    those a plugin's rule restricts them on, only the events about a record it allows them
    (``crm.events.readable``), and those of customers a row-level rule hides left out (both
    after the limit: ``next_after`` passes them), and without ``customers.pii`` on their
    customer the payload values their types declare personal masked
    (``crm.auth.event_masker``)."""
    query = call.query
    readable = call.crm.events.readable_by(call.principal)
    found = call.crm.events.list(type=query.get("type"), after_id=query.get("after"),
                                 limit=query["limit"], readable=readable)
    kept = call.crm.events.readable(found, readable)
    customers = call.crm.customers.by_id(e.customer_id for e in kept)
    access = _access(call, customers)
    shown = call.crm.auth.event_masker(access)
    items = [{"id": e.id, "type": e.type,
              "customer": None if e.customer_id is None else customers[e.customer_id].external_id,
              "occurred_at": e.occurred_at, "source": e.source, "payload": e.payload}
             for e in map(shown, kept) if e.customer_id in access]
    return {"items": items, "next_after": found[-1].id if found else query.get("after")}


def list_plugins(call: Call) -> list[Any]:
    return [jsonable(status) for status in call.crm.plugins.list()]


def installed_plugin(call: Call) -> str:
    """The path's plugin name if it is installed, else NotFound."""
    name = call.path_params["name"]
    if name not in call.crm.installed:
        raise NotFound(f"no plugin named {name!r} is installed")
    return name


def plugin_config(call: Call) -> dict[str, Any]:
    return call.crm.plugins.config(installed_plugin(call))


def put_plugin_config(call: Call) -> dict[str, Any]:
    name = installed_plugin(call)
    schema = call.crm.plugins.schema(name)
    document = fill_defaults(schema, call.body)
    errors = schema_errors(schema_validator(schema), document, f"plugin {name!r} config schema")
    if errors:
        problems = []
        for error in errors:
            pointer, _, message = describe_error(error).partition(": ")
            problems.append(("body", "" if pointer == "/" else pointer, message))
        raise ValidationError.from_problems(problems)
    return call.crm.plugins.configure(name, call.body)


def _query(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


def core_endpoints() -> list[Endpoint]:
    """The core's resources under /api/v1."""
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    return [
        Endpoint("GET", "customers", search_customers, "customers.read",
                 "Search customers by name, email, phone, external id or tag (cursor pages); "
                 "without customers.pii only by external id or tag.",
                 query_schema=_query({"q": {"type": "string", "maxLength": MAX_SEARCH_TEXT},
                                      "tag": text,
                                      "limit": PAGE, "cursor": {"type": "string"}}),
                 response_schema=_page_of(CUSTOMER)),
        Endpoint("POST", "customers", create_customer, "customers.write",
                 "Create a customer.", body_schema=CUSTOMER_CREATE, response_schema=CUSTOMER,
                 status=201),
        Endpoint("GET", "customers/{external_id}", get_customer, "customers.read",
                 "One customer (with its ETag).", response_schema=CUSTOMER),
        Endpoint("PATCH", "customers/{external_id}", patch_customer, "customers.write",
                 "Change fields of a customer (If-Match: its ETag; attributes merge key by key).",
                 body_schema=CUSTOMER_PATCH, response_schema=CUSTOMER),
        Endpoint("GET", "customers/{external_id}/timeline", customer_timeline,
                 "customers.read", "The customer's timeline, newest first: its interactions and "
                 "changes, and the plugins' entries the caller reads (<plugin>.read, and a "
                 "row-level rule restricting it allowing the record an entry is about).",
                 query_schema=_query({"limit": PAGE}),
                 response_schema={"type": "array", "items": {"type": "object"}}),
        Endpoint("POST", "customers/{external_id}/merge", merge_customer, "customers.merge",
                 "Merge a duplicate customer into this one (every plugin's rows move).",
                 body_schema={"type": "object", "required": ["duplicate"],
                              "additionalProperties": False,
                              "properties": {"duplicate": {**text, "description":
                                                           "the duplicate's external id"}}},
                 response_schema=CUSTOMER),
        Endpoint("POST", "customers/{external_id}/erase", erase_customer, "customers.erase",
                 "Erase the customer's personal data in every table (privacy request).",
                 response_schema=CUSTOMER),
        Endpoint("GET", "customers/{external_id}/export", export_customer, "customers.export",
                 "Everything held about the customer (privacy access request; recorded).",
                 response_schema={"type": "object"}),
        Endpoint("POST", "interactions", record_interactions, "interactions.write",
                 "Record one interaction, or a list of them atomically.",
                 body_schema=INTERACTIONS_IN, status=201, response_schema={"oneOf": [
                     INTERACTION,
                     {"type": "object", "description": "what a list did",
                      "properties": {"created": {"type": "integer"},
                                     "unchanged": {"type": "integer"}}}]}),
        Endpoint("GET", "interactions", list_interactions, "interactions.read",
                 "Interactions, newest first, of a customer, a kind, since a time.",
                 query_schema=_query({"customer": text, "kind": text,
                                      "since": {"type": "string"}, "limit": PAGE,
                                      "cursor": {"type": "string"}}),
                 response_schema=_page_of(INTERACTION)),
        Endpoint("GET", "events", list_events, "events.read",
                 "Stored domain events after an event id, oldest first (for pollers), of "
                 "the types whose area the caller reads (a plugin's: <plugin>.read, and a "
                 "row-level rule restricting it allowing the record an event is about).",
                 query_schema=_query({"after": {"type": "integer", "minimum": 0},
                                      "type": text, "limit": PAGE}),
                 response_schema=_page_of(EVENT, "next_after")),
        Endpoint("GET", "plugins", list_plugins, "plugins.read",
                 "Installed plugins: version, status, requirements.",
                 response_schema={"type": "array", "items": {"type": "object"}}),
        Endpoint("GET", "plugins/{name}/config", plugin_config, "plugins.read",
                 "A plugin's stored configuration.", response_schema={"type": "object"}),
        Endpoint("PUT", "plugins/{name}/config", put_plugin_config, "plugins.configure",
                 "Replace an enabled plugin's configuration (checked against its JSON Schema).",
                 body_schema={"type": "object"}, response_schema={"type": "object"},
                 own_transactions=True),
    ]


__all__ = ["MAX_PAGE_SIZE", "DEFAULT_PAGE_SIZE", "MAX_BATCH", "core_endpoints",
           "customer_document", "interaction_document", "etag", "encode_cursor",
           "decode_cursor", "installed_plugin", "put_plugin_config"]
