"""collaborative's HTTP routes, mounted under ``/api/v1/collaborative/``.

Team queues and work items (assign, start, complete, hand off, acknowledge),
team load, customers' consent per channel, and outbound contact (the
customer's preferred channel, consent enforced).  Every handler calls the public API (``call.api()``), which
holds the rules.

Row-level rules: a customer a plugin's row-level rule hides from the member
(``customers.read``) does not exist for them (``crm.auth.named_customer``): its work items
are left out of the queues (answered a page at a time, :class:`crmkit.plugin.KeyedPage`),
and naming it (its path, a contact's ``customer``) is a 404
like an unknown customer, one of its work items by id (a contact's ``work_item_id`` too) a
404 like an unknown item.

Team rule: a hand-off waiting for acknowledgement is its team's to acknowledge.  A staff
member without ``collaborative.any_team`` who is in another team may not acknowledge it,
nor start or hand on its item (either of which acknowledges it): 403 naming the team.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.plugin import (INSTANT, INTEGER, OPTIONAL_INSTANT, OPTIONAL_TEXT, TEXT, Endpoint,
                           KeyedPage, PermissionDenied, closed_object, jsonable, keyed_query,
                           parse_timestamp, record_id, report_page_schema, timestamp_or_none)

from . import workitems

READ = "collaborative.read"
WRITE = "collaborative.write"
ANY_TEAM = "collaborative.any_team"

PERMISSIONS = {
    READ: "See team queues, work items with their history, team load and customers' consent "
          "per channel.",
    WRITE: "Assign, start, complete, hand off and acknowledge work items; record a customer's "
           "consent on a channel; contact customers outbound (recorded as an interaction; "
           "consent applies).",
    ANY_TEAM: "Acknowledge a hand-off waiting for any team, also by starting or handing on "
              "its work item (without it only members of the team it waits for may).",
}


WORK_ITEM = closed_object({
    "id": INTEGER, "customer": TEXT, "interaction_id": INTEGER, "team": TEXT, "state": TEXT,
    "assignee": OPTIONAL_TEXT, "rule": TEXT, "subject": TEXT, "created_at": INSTANT,
    "updated_at": INSTANT, "ack_due_at": OPTIONAL_INSTANT})
HISTORY_ENTRY = closed_object({
    "at": INSTANT, "actor": TEXT, "action": TEXT, "from_state": OPTIONAL_TEXT, "to_state": TEXT,
    "team": TEXT, "assignee": OPTIONAL_TEXT, "note": OPTIONAL_TEXT, "from_team": OPTIONAL_TEXT})
CONSENT = closed_object({"channel": TEXT, "granted": {"type": "boolean"}, "source": TEXT,
                         "recorded_at": INSTANT})
WORK_ITEM_WITH_HISTORY = {**WORK_ITEM, "properties": {
    **WORK_ITEM["properties"], "history": {"type": "array", "items": HISTORY_ENTRY}}}


def _item(work_item) -> dict[str, Any]:
    """A work item keyed by its customer's external id (``customer``), without internal ids."""
    row = jsonable(work_item)
    row.pop("customer_id")
    return {"customer": row.pop("external_id"), **row}


def _visible_item(call, item_id: int) -> int:
    """``item_id``, once the caller may see that work item: one of a customer a plugin's
    row-level rule hides from them is not found, like an unknown item."""
    customer = call.api().work_item(item_id).external_id
    call.crm.auth.named_customer(call.principal, customer, f"no work item {item_id}")
    return item_id


def _item_id(call) -> int:
    """The path's work item id (:func:`_visible_item`)."""
    return _visible_item(call, record_id(call.path_params["item_id"], "work item"))


def _document(call, item_id: int) -> dict[str, Any]:
    api = call.api()
    return {**_item(api.work_item(item_id)), "history": jsonable(api.history(item_id))}


def _queue_position(position) -> tuple[dt.datetime, int]:
    """A queue cursor's position: a work item's creation instant and id."""
    created_at, item_id = position
    return parse_timestamp(created_at, "cursor"), item_id


def queue(call):
    page = KeyedPage.of(call, parse=_queue_position)
    states = call.query.get("state")
    chosen = {} if states is None else {"states": tuple(states)}
    items = call.api().queue(call.path_params["team"], after=page.after,
                             limit=page.limit + 1, **chosen)
    return page.answer(call, items, key_of=lambda i: [i.created_at.isoformat(), i.id],
                       shape=_item)


def customer_items(call):
    return [_item(i) for i in call.api().items_of(call.path_params["customer"])]


def work_item(call):
    return _document(call, _item_id(call))


def _require_handoff_team(call, item_id: int) -> None:
    """PermissionDenied unless the caller may acknowledge the hand-off the item waits for, if
    any: they are in its team (the item's team while it waits) or hold ``ANY_TEAM``.

    Runs in the request's transaction and locks the item's row first, so that a hand-on
    committing meanwhile is waited for and seen (else the check could pass on the team the
    item had, and the action acknowledge the hand-off of the team it has now)."""
    with call.crm.transaction() as tx:  # the request's own: the lock holds until it commits
        workitems.lock(tx.conn, item_id)
    item = call.api().work_item(item_id)
    if item.ack_due_at is None or call.crm.auth.allowed(call.principal, ANY_TEAM):
        return
    handle = call.principal.handle
    team = call.crm.staff.get(handle).team
    if team != item.team:
        raise PermissionDenied(
            f"work item {item_id}: its hand-off waits for team {item.team!r} to acknowledge it, "
            f"and {handle!r} is in team {team!r}; only a member of {item.team!r} (or one "
            f"holding {ANY_TEAM}) may acknowledge it, start or hand on the item")


def _change(action, acknowledges: bool = False):
    """A handler that applies ``action(api, item_id, body)`` and answers the changed item;
    when the action ``acknowledges`` a waiting hand-off, only for a caller who may."""
    def handler(call):
        item_id = _item_id(call)
        if acknowledges:
            _require_handoff_team(call, item_id)
        action(call.api(), item_id, call.body or {})
        return _document(call, item_id)
    return handler


def team_load(call):
    return jsonable(call.api().team_load(timestamp_or_none(call.query.get("as_of"), "as_of")))


def consents(call):
    return jsonable(call.crm.customers.consents(call.path_params["customer"]))


def set_consent(call):
    p = call.path_params
    return jsonable(call.crm.customers.set_consent(p["customer"], p["channel"],
                                                   call.body["granted"], call.body["source"]))


def contact(call):
    b = call.body
    customer = call.crm.auth.named_customer(call.principal, b["customer"])
    item_id = b.get("work_item_id")
    done = jsonable(call.api().contact(customer, b["subject"], b.get("channel"),
                                       b.get("override_reason"), b.get("kind", "message"),
                                       None if item_id is None else _visible_item(call, item_id)))
    done.pop("customer_id")
    return {"customer": customer, **done}


def endpoints() -> list[Endpoint]:
    """collaborative's endpoints (the ``crmkit_routes`` answer)."""
    item_path = "items/{item_id}"
    return [
        Endpoint("GET", "queues/{team}", queue, READ,
                 "A team's work items, oldest first (default: the open ones), a page at a "
                 "time.",
                 query_schema=keyed_query({"state": {
                     "type": "array", "items": TEXT,
                     "description": "Only items in this state (repeatable: queued, assigned, "
                                    "in_progress, done)."}}),
                 response_schema=report_page_schema(WORK_ITEM)),
        Endpoint("GET", "customers/{customer}/items", customer_items, READ,
                 "Every work item of one customer, oldest first.",
                 response_schema={"type": "array", "items": WORK_ITEM}),
        Endpoint("GET", item_path, work_item, READ, "One work item with its history.",
                 response_schema=WORK_ITEM_WITH_HISTORY),
        Endpoint("POST", f"{item_path}/assign",
                 _change(lambda api, i, b: api.assign(i, b["assignee"])), WRITE,
                 "Assign a work item to an active staff member of its team.",
                 body_schema=closed_object({"assignee": TEXT}, ("assignee",)),
                 response_schema=WORK_ITEM_WITH_HISTORY),
        Endpoint("POST", f"{item_path}/start",
                 _change(lambda api, i, b: api.start(i), acknowledges=True), WRITE,
                 "Start work on an assigned item.", response_schema=WORK_ITEM_WITH_HISTORY),
        Endpoint("POST", f"{item_path}/complete", _change(lambda api, i, b: api.complete(i)),
                 WRITE, "Mark an in-progress item done.", response_schema=WORK_ITEM_WITH_HISTORY),
        Endpoint("POST", f"{item_path}/handoff",
                 _change(lambda api, i, b: api.hand_off(i, b["team"], b["note"]),
                         acknowledges=True), WRITE,
                 "Hand an open item to another team with a note (to be acknowledged).",
                 body_schema=closed_object({"team": TEXT, "note": TEXT}, ("team", "note")),
                 response_schema=WORK_ITEM_WITH_HISTORY),
        Endpoint("POST", f"{item_path}/acknowledge",
                 _change(lambda api, i, b: api.acknowledge(i), acknowledges=True), WRITE,
                 "Acknowledge the item's pending hand-off (a member of its team, or one "
                 "holding collaborative.any_team).",
                 response_schema=WORK_ITEM_WITH_HISTORY),
        Endpoint("GET", "teams/load", team_load, READ,
                 "Open work per team, with hand-offs awaiting acknowledgement and overdue.",
                 query_schema=closed_object({"as_of": INSTANT}),
                 response_schema={"type": "array", "items": closed_object({
                     "team": TEXT, "queued": INTEGER, "assigned": INTEGER,
                     "in_progress": INTEGER, "awaiting_ack": INTEGER,
                     "overdue_ack": INTEGER})}),
        Endpoint("GET", "customers/{customer}/consents", consents, READ,
                 "A customer's consent decisions, one per channel (no decision: no consent).",
                 response_schema={"type": "array", "items": CONSENT}),
        Endpoint("PUT", "customers/{customer}/consents/{channel}", set_consent, WRITE,
                 "Record that a customer granted or withdrew consent on a channel (audited).",
                 body_schema=closed_object({"granted": {"type": "boolean"}, "source": {
                     **TEXT, "description": "Where the decision came from (web form, call …)."}},
                     ("granted", "source")),
                 response_schema=CONSENT),
        Endpoint("POST", "contacts", contact, WRITE,
                 "Contact a customer outbound: the preferred channel, or another with an "
                 "override reason; consent applies.",
                 body_schema=closed_object({"customer": TEXT, "subject": TEXT, "channel": TEXT,
                                            "override_reason": TEXT, "kind": TEXT,
                                            "work_item_id": INTEGER}, ("customer", "subject")),
                 response_schema=closed_object({
                     "customer": TEXT, "id": INTEGER, "interaction_id": INTEGER,
                     "channel": TEXT, "preferred_channel": OPTIONAL_TEXT,
                     "override_reason": OPTIONAL_TEXT, "subject": TEXT}),
                 status=201),
    ]
