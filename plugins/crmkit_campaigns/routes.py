"""campaigns' HTTP routes, mounted under ``/api/v1/campaigns/``: ``campaigns``, ``campaigns/{name}``…

The same operations as ``crmkit campaigns``: list, show, add, schedule, run and
pause.  Every handler calls the public API, which holds the rules (a template
naming an unknown field, a segment that does not exist, a schedule in the past,
a negative cost… is a 422 naming the field, and nothing is stored).  A campaign's coupons
are answered a page at a time by code (:class:`crmkit.plugin.KeyedPage`), leaving out those
of a customer a plugin's row-level rule hides from the caller; the recipient counts and the
report count every customer.
"""

from __future__ import annotations

from crmkit.plugin import (AS_OF_INSTANT, INTEGER, NUMBER, OPTIONAL_INSTANT, OPTIONAL_TEXT, TEXT,
                           Endpoint, KeyedPage, closed_object, jsonable, keyed_query,
                           parse_timestamp, report_page_schema)

from .definition import NAME_MAX, Variant

READ = "campaigns.read"
WRITE = "campaigns.write"

PERMISSIONS = {
    READ: "See the campaigns, their definitions and how many recipients were planned, "
          "skipped and held out.",
    WRITE: "Add, schedule, run and pause campaigns.",
}

DECIMAL = {"type": "string", "description": "An exact decimal amount."}
COUNTS = {"type": "object", "properties": {
    "planned": INTEGER, "queued": INTEGER, "skipped": INTEGER, "held_out": INTEGER,
    "skipped_by_reason": {"type": "object", "additionalProperties": INTEGER},
    "by_variant": {"type": "object", "additionalProperties": INTEGER}}}
SUMMARY = closed_object({"name": TEXT, "goal": OPTIONAL_TEXT, "channel": TEXT, "status": TEXT,
                         "schedule_at": OPTIONAL_INSTANT, "created_at": TEXT,
                         "planned": INTEGER, "queued": INTEGER, "skipped": INTEGER,
                         "held_out": INTEGER})
VARIANT = closed_object({"name": TEXT, "share": NUMBER, "subject": OPTIONAL_TEXT,
                         "template": TEXT})
CAMPAIGN = {"type": "object", "properties": {
    "name": TEXT, "goal": OPTIONAL_TEXT, "channel": TEXT, "audience": {"type": "object"},
    "subject": OPTIONAL_TEXT, "template": TEXT, "holdout": NUMBER, "cost_fixed": DECIMAL,
    "cost_per_message": DECIMAL, "schedule_at": OPTIONAL_INSTANT, "status": TEXT,
    "attribution_days": {"type": ["integer", "null"]}, "created_at": TEXT, "created_by": TEXT,
    "variants": {"type": "array", "items": VARIANT}, "recipients": COUNTS}}
RUN = {"type": "object", "properties": {"campaign": TEXT, "new": INTEGER,
                                        **COUNTS["properties"]}}
AMOUNT = {"type": ["string", "number"], "description": "A decimal amount ≥ 0 (text keeps it "
                                                       "exact)."}


def campaigns(call):
    return jsonable(call.api().list())


def campaign(call):
    return jsonable(call.api().show(call.path_params["name"]))


def add(call):
    body = call.body
    chosen = [Variant(v["name"], v["share"], v.get("subject"), v["template"])
              for v in body.get("variants", [])]
    return jsonable(call.api().add(
        body["name"], channel=body["channel"], template=body["template"],
        subject=body.get("subject"), segment=body.get("segment"), condition=body.get("if"),
        holdout=body.get("holdout", 0.0), cost=str(body.get("cost", "0")),
        cost_per_message=str(body.get("cost_per_message", "0")), goal=body.get("goal"),
        variants=chosen, attribution_days=body.get("attribution_days")))


def schedule(call):
    at = parse_timestamp(call.body["at"], "at")
    return jsonable(call.api().schedule(call.path_params["name"], at))


def run(call):
    return jsonable(call.api().run(call.path_params["name"]))


def pause(call):
    return jsonable(call.api().pause(call.path_params["name"]))


def report(call):
    at = call.query.get("as_of")
    result = call.api().report(call.path_params["name"],
                               None if at is None else parse_timestamp(at, "as_of"))
    return jsonable(result.document())


def coupons(call):
    page = KeyedPage.of(call)
    rows = call.api().coupons(call.path_params["name"], after=page.after, limit=page.limit + 1)
    return page.answer(call, rows, key_of=lambda coupon: coupon.code)


NUMBERS = {"type": "object", "properties": {
    name: INTEGER for name in ("recipients", "sent", "delivered", "bounced", "opened", "clicked",
                               "unsubscribed", "replied", "converted", "treated",
                               "treated_conversions")}}
UPLIFT = {"type": ["object", "null"], "properties": {
    "difference": NUMBER, "low": NUMBER, "high": NUMBER, "confidence": NUMBER, "method": TEXT}}
LINE = {"type": "object", "properties": {
    **NUMBERS["properties"], "revenue": DECIMAL, "cost": DECIMAL,
    "roi": {"type": ["string", "null"]}, "conversion_rate": {"type": ["number", "null"]},
    "uplift": UPLIFT}}
REPORT = {"type": "object", "properties": {
    **LINE["properties"], "campaign": TEXT, "status": TEXT, "as_of": TEXT, "model": TEXT,
    "attribution_days": INTEGER, "currency": TEXT,
    "holdout": closed_object({"size": INTEGER, "conversions": INTEGER,
                              "rate": {"type": ["number", "null"]}}),
    "variants": {"type": "array", "items": {"type": "object", "properties": {
        "variant": TEXT, **LINE["properties"]}}}}}
COUPON = closed_object({"code": TEXT, "campaign": OPTIONAL_TEXT, "customer": OPTIONAL_TEXT,
                        "kind": TEXT, "value": DECIMAL, "currency": OPTIONAL_TEXT,
                        "expires_at": OPTIONAL_INSTANT, "max_uses": {"type": ["integer", "null"]},
                        "uses": INTEGER, "source": TEXT, "issued_at": TEXT})


def endpoints() -> list[Endpoint]:
    """campaigns' endpoints (the ``crmkit_routes`` answer)."""
    new = {"type": "object", "additionalProperties": False,
           "required": ["name", "channel", "template"],
           "properties": {
               "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
               "channel": TEXT, "goal": TEXT, "subject": TEXT,
               "template": {**TEXT, "description": "Jinja2 over the customer's fields."},
               "segment": {**TEXT, "description": "An analytical saved segment (or give if)."},
               "if": {"type": "object", "description": "A condition over customer fields, in "
                                                       "the saved segments' language."},
               "holdout": {"type": "number", "description": "Fraction held out, in [0, 1)."},
               "cost": AMOUNT, "cost_per_message": AMOUNT,
               "attribution_days": {"type": "integer"},
               "variants": {"type": "array", "items": {
                   "type": "object", "additionalProperties": False,
                   "required": ["name", "share", "template"],
                   "properties": {"name": TEXT, "share": NUMBER, "subject": TEXT,
                                  "template": TEXT}}}}}
    return [
        Endpoint("GET", "campaigns", campaigns, READ,
                 "Every campaign, newest first, with recipient counts by status.",
                 response_schema={"type": "array", "items": SUMMARY}),
        Endpoint("GET", "campaigns/{name}", campaign, READ,
                 "One campaign: definition, variants, recipients by status, reason and variant.",
                 response_schema=CAMPAIGN),
        Endpoint("POST", "campaigns", add, WRITE,
                 "Add a draft campaign (everything checked first; nothing stored if any part "
                 "is bad).", body_schema=new, response_schema=CAMPAIGN, status=201),
        Endpoint("POST", "campaigns/{name}/schedule", schedule, WRITE,
                 "Schedule the campaign: the worker plans and sends it at the given instant.",
                 body_schema=closed_object({"at": {"type": "string", "format": "date-time"}},
                                           required=["at"]),
                 response_schema=CAMPAIGN),
        Endpoint("POST", "campaigns/{name}/run", run, WRITE,
                 "Plan the campaign's recipients now (only customers not planned yet) and "
                 "mark it running; the counts.", response_schema=RUN),
        Endpoint("POST", "campaigns/{name}/pause", pause, WRITE,
                 "Pause the campaign: no more messages are rendered until it is run again.",
                 response_schema=CAMPAIGN),
        Endpoint("GET", "campaigns/{name}/report", report, READ,
                 "The campaign's results: deliveries, responses, revenue, cost, ROI, holdout "
                 "and uplift with its 95 % interval, in all and per variant.",
                 query_schema=closed_object({"as_of": AS_OF_INSTANT}),
                 response_schema=REPORT),
        Endpoint("GET", "campaigns/{name}/coupons", coupons, READ,
                 "The campaign's coupons with their customer, value, expiry and uses, by "
                 "code, a page at a time.",
                 query_schema=keyed_query(), response_schema=report_page_schema(COUPON)),
    ]
