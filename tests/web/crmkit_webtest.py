"""A local test plugin with HTTP endpoints: what the dispatcher does around a handler."""

from __future__ import annotations

from sqlalchemy import text

import crmkit
from crmkit.plugin import ConflictError, Endpoint, NotFound, PluginError, Reply

PLUGIN = crmkit.PluginInfo(name="webtest", description="HTTP endpoints for the API tests.")


def echo(call):
    return {"body": call.body, "query": call.query, "params": call.path_params,
            "plugin": call.plugin, "caller": call.principal.handle,
            "credentials_seen": "authorization" in call.headers}


def add_then_fail(call):
    """Writes a customer through the public API, then fails: nothing may stay written."""
    call.crm.customers.add(call.body["external_id"], "Written then rolled back")
    if call.body.get("fail") == "crm":
        raise NotFound("the second step found nothing")
    raise RuntimeError("a bug with a secret detail: /srv/secret/path")


def add(call):
    customer = call.crm.customers.add(call.body["external_id"], "Added by a plugin route")
    return Reply({"external_id": customer.external_id}, 201, {"X-Plugin": "webtest"})


def wait(call):
    """Answers only after the test let it go: opening a FIFO blocks until the other end opens."""
    with open(call.body["started"], "w") as started:
        started.write("in flight\n")
    with open(call.body["release"]) as release:
        return {"released": release.read().strip()}


@crmkit.hookimpl
def crmkit_permission_allowed(principal, permission, resource):
    """Row-level rules: customers tagged "secret" exist only for admins (``customers.read`` is
    refused on them, and nothing else: that alone hides a customer everywhere); the personal
    data of customers tagged "private" is shown only to admins."""
    if resource is None or principal.role == "admin":
        return None
    tags = resource.get("tags", ())
    if ("secret" in tags and permission == "customers.read") or (
            "private" in tags and permission == "customers.pii"):
        return False
    return None


@crmkit.hookimpl
def crmkit_permission_restricted(principal, permission):
    """Whom the rules above may refuse what: every member but admins, customers.read and
    customers.pii."""
    return principal.role != "admin" and permission in ("customers.read", "customers.pii")


REFUSALS = {"Refused by webtest": ConflictError("webtest refuses this name: it is reserved"),
            "Unready for webtest": PluginError("webtest is not set up for new customers yet")}
"""Customer names the webtest plugin refuses on purpose, with its own words."""
BROKEN = "Broken by webtest"
"""A customer name on which the webtest plugin's check fails: a statement on a missing table."""


@crmkit.hookimpl
def crmkit_validate_customers(ctx, rows):
    for row in rows:
        if row.get("name") in REFUSALS:
            raise REFUSALS[row["name"]]
        if row.get("name") == BROKEN:
            ctx.conn.execute(text("SELECT secret_column FROM webtest_missing_table"))
    return None


@crmkit.hookimpl
def crmkit_routes(crm):
    return [
        Endpoint("POST", "echo/{thing}", echo, "customers.read", "Echo the validated request.",
                 body_schema={"type": "object", "additionalProperties": False,
                              "required": ["name"],
                              "properties": {"name": {"type": "string"},
                                             "count": {"type": "integer", "default": 1},
                                             "nested": {"type": "object", "properties": {
                                                 "n": {"type": "integer"}}}}},
                 query_schema={"type": "object", "additionalProperties": False,
                               "properties": {"limit": {"type": "integer", "maximum": 10,
                                                        "default": 5},
                                              "exact": {"type": "boolean"},
                                              "tag": {"type": "array",
                                                      "items": {"type": "string"}}}}),
        Endpoint("POST", "fail", add_then_fail, "customers.write", "Write, then fail.",
                 body_schema={"type": "object"}),
        Endpoint("POST", "wait", wait, "customers.read", "Answer when the test says so.",
                 body_schema={"type": "object", "properties": {
                     "started": {"type": "string"}, "release": {"type": "string"}}}),
        Endpoint("POST", "customers", add, "customers.write", "Add a customer.",
                 body_schema={"type": "object", "required": ["external_id"],
                              "properties": {"external_id": {"type": "string"}}},
                 status=201),
    ]
