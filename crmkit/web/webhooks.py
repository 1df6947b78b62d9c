"""``/api/v1/webhooks``: webhooks and their delivery log over HTTP (permission
``webhooks.manage``), through ``crm.webhooks`` as ``crmkit webhooks`` does; a webhook is
added ``by`` the caller, who may add only one whose deliveries they may read in full."""

from __future__ import annotations

from typing import Any

from ..models import jsonable
from ..webhooks import MAX_SECRET_LENGTH, MAX_URL_LENGTH, STATUSES, Delivery, Webhook
from .endpoints import Call, Endpoint, Reply
from .schemas import INSTANT, OPTIONAL_INSTANT, record_id

PERMISSION = "webhooks.manage"
MAX_PAGE_SIZE = 200

WEBHOOK_IN = {
    "type": "object", "required": ["url", "event_types", "secret"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "maxLength": MAX_URL_LENGTH,
                "description": "an absolute http:// or https:// URL"},
        "event_types": {"type": "array", "minItems": 1, "maxItems": 500,
                        "items": {"type": "string", "minLength": 1, "maxLength": 100},
                        "description": "event types to send (GET /api/v1/events shows them)"},
        "secret": {"type": "string", "maxLength": MAX_SECRET_LENGTH,
                   "description": "the signing secret (16 characters or more); never returned"},
    },
}
WEBHOOK = {"type": "object", "properties": {
    "id": {"type": "integer"}, "url": {"type": "string"},
    "event_types": {"type": "array", "items": {"type": "string"}},
    "active": {"type": "boolean"}, "created_at": INSTANT,
    **{status: {"type": "integer"} for status in STATUSES}}}
DELIVERY = {"type": "object", "properties": {
    "row": {"type": "integer"}, "delivery_id": {"type": "string"},
    "webhook": {"type": "integer"}, "event_type": {"type": "string"},
    "event_id": {"type": ["integer", "null"]}, "interaction_id": {"type": ["integer", "null"]},
    "status": {"enum": list(STATUSES)}, "attempts": {"type": "integer"},
    "next_attempt_at": OPTIONAL_INSTANT, "last_attempt_at": OPTIONAL_INSTANT,
    "last_status_code": {"type": ["integer", "null"]},
    "last_error": {"type": ["string", "null"]}, "delivered_at": OPTIONAL_INSTANT}}


def webhook_document(hook: Webhook, counts: dict[str, int]) -> dict[str, Any]:
    """A webhook as the API shows it: never its secret; its deliveries by status."""
    return jsonable({"id": hook.id, "url": hook.url, "event_types": list(hook.event_types),
                     "active": hook.active, "created_at": hook.created_at,
                     **{status: counts.get(status, 0) for status in STATUSES}})


def delivery_document(item: Delivery) -> dict[str, Any]:
    """One row of the delivery log (the same columns as ``crmkit webhooks deliveries``)."""
    return jsonable({
        "row": item.id, "delivery_id": item.delivery_id, "webhook": item.webhook_id,
        "event_type": item.event_type, "event_id": item.event_id,
        "interaction_id": item.interaction_id, "status": item.status, "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at if item.status == "pending" else None,
        "last_attempt_at": item.last_attempt_at, "last_status_code": item.last_status_code,
        "last_error": item.last_error, "delivered_at": item.delivered_at})


def _webhook_id(call: Call) -> int:
    return record_id(call.path_params["webhook_id"], "webhook")


def list_webhooks(call: Call) -> dict[str, Any]:
    counts = call.crm.webhooks.counts()
    hooks = call.crm.webhooks.list(include_removed=call.query["include_removed"])
    return {"items": [webhook_document(h, counts.get(h.id, {})) for h in hooks]}


def add_webhook(call: Call) -> Reply:
    body = call.body
    hook = call.crm.webhooks.add(body["url"], body["event_types"], body["secret"],
                                 by=call.principal)
    return Reply(webhook_document(hook, {}), 201,
                 {"Location": f"/api/v1/webhooks/{hook.id}"})


def get_webhook(call: Call) -> dict[str, Any]:
    hook = call.crm.webhooks.get(_webhook_id(call))
    return webhook_document(hook, call.crm.webhooks.counts().get(hook.id, {}))


def remove_webhook(call: Call) -> dict[str, Any]:
    hook = call.crm.webhooks.remove(_webhook_id(call))
    return webhook_document(hook, call.crm.webhooks.counts().get(hook.id, {}))


def list_deliveries(call: Call) -> dict[str, Any]:
    query = call.query
    found = call.crm.webhooks.deliveries(status=query.get("status"),
                                         webhook_id=query.get("webhook"),
                                         after_id=query.get("after"), limit=query["limit"])
    return {"items": [delivery_document(d) for d in found],
            "next_after": found[-1].id if found else query.get("after")}


def webhook_endpoints() -> list[Endpoint]:
    """The endpoints of ``/api/v1/webhooks``."""
    page = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50}

    def query(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "additionalProperties": False}

    return [
        Endpoint("GET", "webhooks", list_webhooks, PERMISSION,
                 "Webhooks with their deliveries by status (never their secrets).",
                 query_schema=query({"include_removed": {"type": "boolean", "default": False}}),
                 response_schema={"type": "object", "properties": {
                     "items": {"type": "array", "items": WEBHOOK}}}),
        Endpoint("POST", "webhooks", add_webhook, PERMISSION,
                 "Send events of the given types to a URL, signed with a secret (403 unless "
                 "the caller's role reads all they carry, unmasked, unfiltered by any "
                 "row-level rule).",
                 body_schema=WEBHOOK_IN, response_schema=WEBHOOK, status=201,
                 own_transactions=True),
        Endpoint("GET", "webhooks/deliveries", list_deliveries, PERMISSION,
                 "The delivery log, oldest first (page on with after=next_after).",
                 query_schema=query({"status": {"enum": list(STATUSES)},
                                     "webhook": {"type": "integer", "minimum": 1},
                                     "after": {"type": "integer", "minimum": 0},
                                     "limit": page}),
                 response_schema={"type": "object", "properties": {
                     "items": {"type": "array", "items": DELIVERY},
                     "next_after": {"type": ["integer", "null"]}}}),
        Endpoint("GET", "webhooks/{webhook_id}", get_webhook, PERMISSION, "One webhook.",
                 response_schema=WEBHOOK),
        Endpoint("DELETE", "webhooks/{webhook_id}", remove_webhook, PERMISSION,
                 "Stop a webhook: pending deliveries fail, the secret is wiped, the log stays.",
                 response_schema=WEBHOOK),
    ]


__all__ = ["webhook_endpoints", "webhook_document", "delivery_document", "WEBHOOK_IN"]
