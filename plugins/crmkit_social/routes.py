"""social's HTTP routes, mounted under ``/api/v1/social/``.

Customers' social identities (link, unlink, list), mentions (import and
list) with their sentiment summary, and referrals (a customer's code,
redeeming one, the list).  Every handler calls the public API
(``call.api()``), which holds the rules: an imported mention is checked by
the same code as ``crmkit social import``.  Handles, post texts and post ids are personal
data: a caller not allowed ``customers.pii`` on their customer reads them as ``***``; the
identities, mentions and referrals (as referrer or referee) of a customer a plugin's
row-level rule hides from the caller are left out, and naming it (``?customer=``, its path, a
referral's referee) is a 404 like an unknown customer (``crm.auth.named_customer``), its
referral code one like an unknown code; a referee it referred is refused without its name.
"""

from __future__ import annotations

from crmkit.plugin import (INSTANT, INTEGER, ONE_RECORD, OPTIONAL_INSTANT, OPTIONAL_TEXT,
                           TEXT, Endpoint, KeyedPage, ReportPage, closed_object, jsonable,
                           keyed_query, report_page_schema, report_query, timestamp_or_none)

from .mentions import FIELDS
from .referrals import unknown_code

READ = "social.read"
WRITE = "social.write"

PERMISSIONS = {
    READ: "See social identities, mentions with their sentiment, and referrals.",
    WRITE: "Link and unlink identities, import mentions, issue and redeem referral codes.",
}

MAX_MENTIONS = 1000
"""Most mentions one request may import (a file goes through ``crmkit social import``)."""


def _instant(call, name: str):
    return timestamp_or_none(call.query.get(name), name)


IDENTITY = closed_object({"id": INTEGER, "customer": TEXT, "platform": TEXT, "handle": TEXT,
                          "linked_at": INSTANT})
MENTION = closed_object({
    "id": INTEGER, "platform": TEXT, "post_id": TEXT, "handle": TEXT, "customer": OPTIONAL_TEXT,
    "text": OPTIONAL_TEXT, "posted_at": INSTANT, "likes": INTEGER, "comments": INTEGER,
    "shares": INTEGER, "sentiment": {"type": ["number", "null"]}, "language": OPTIONAL_TEXT,
    "unscored_reason": OPTIONAL_TEXT, "label": TEXT})
REFERRAL = closed_object({"id": INTEGER, "referrer": TEXT, "referee": TEXT, "redeemed_at": INSTANT,
                          "converted_at": OPTIONAL_INSTANT, "converted": {"type": "boolean"}})


def _masked(call, rows: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """``rows`` as the caller may see them: ``crm.auth.rows_as_seen`` with the personal
    ``fields`` (handles, post texts, post ids)."""
    return call.crm.auth.rows_as_seen(call.principal, rows, fields)


def _identity_position(position) -> tuple[str, int]:
    """An identities cursor's position: its owner's external id and the identity's id."""
    owner, identity_id = position
    if not isinstance(owner, str) or not isinstance(identity_id, int):
        raise TypeError("not an owner and an id")
    return owner, identity_id


def identities(call):
    page = KeyedPage.of(call, parse=_identity_position)
    customer = call.crm.auth.named_customer(call.principal, call.query.get("customer"))
    rows = call.api().identities(customer, after=page.after, limit=page.limit + 1)
    return page.answer(call, rows, key_of=lambda row: [row["customer"], row["id"]],
                       personal=("handle",))


def link(call):
    customer = call.path_params["customer"]
    linked = call.api().link_handle(customer, call.body["platform"], call.body["handle"])
    return {"linked": linked, "identities": _masked(
        call, jsonable(call.api().identities(customer)), ("handle",))}


def unlink(call):
    p = call.path_params
    call.api().unlink_handle(p["customer"], p["platform"], p["handle"])
    return {"identities": _masked(call, jsonable(call.api().identities(p["customer"])),
                                  ("handle",))}


def mentions(call):
    q = call.query
    customer = call.crm.auth.named_customer(call.principal, q.get("customer"))
    rows = call.api().mentions(customer, q.get("label"), _instant(call, "since"),
                               _instant(call, "as_of"), q.get("limit"))
    out = []
    for row in jsonable(rows):
        row.pop("customer_id")
        customer = row.pop("external_id")
        out.append({**row, "customer": customer})
    return _masked(call, out, ("handle", "text", "post_id"))


def import_mentions(call):
    records = call.body if isinstance(call.body, list) else [call.body]
    labels = ([f"row {n + 1}" for n in range(len(records))] if isinstance(call.body, list)
              else [ONE_RECORD])
    return jsonable(call.api().import_mentions(records, labels))


def sentiment(call):
    return jsonable(call.api().sentiment_summary(_instant(call, "since"), _instant(call, "as_of")))


def referral_code(call):
    return {"customer": call.path_params["customer"],
            "code": call.api().referral_code(call.path_params["customer"])}


def redeem_referral(call):
    """A code of a customer a row-level rule hides from the caller is an unknown code to
    them: its holder does not exist for them, so neither does the code, and nothing is
    written (redeeming it anyway would add a referral they can neither list nor be told
    about).  A referee already referred by such a customer is refused without naming it."""
    auth, api, code = call.crm.auth, call.api(), call.body["code"]
    referee = auth.named_customer(call.principal, call.body["referee"])
    auth.named_customer(call.principal, api.referrer(code), unknown_code(code))
    done = api.redeem_referral(code, referee, lambda external_id: external_id in
                               auth.access_by_external_id(call.principal, [external_id]))
    [row] = [r for r in api.referrals() if r["id"] == done.id]
    return jsonable(row)


def referrals(call):
    page = ReportPage.of(call)
    return page.answer(call, call.api().referrals(page.as_of), key=("referrer", "referee"))


def endpoints() -> list[Endpoint]:
    """social's endpoints (the ``crmkit_routes`` answer)."""
    mention_in = {"type": "object", "description": "A mention: " + ", ".join(FIELDS)
                  + " (checked as by `crmkit social import`)."}
    identities_of = {"type": "array", "items": IDENTITY}
    return [
        Endpoint("GET", "identities", identities, READ,
                 "Linked handles with their customer (by customer, then in the order they "
                 "were linked), optionally of one customer, a page at a time.",
                 query_schema=keyed_query({"customer": TEXT}),
                 response_schema=report_page_schema(IDENTITY)),
        Endpoint("POST", "customers/{customer}/identities", link, WRITE,
                 "Link a handle to a customer (a handle another customer owns is a conflict).",
                 body_schema=closed_object({"platform": TEXT, "handle": TEXT},
                                           ("platform", "handle")),
                 response_schema=closed_object({"linked": {"type": "boolean"},
                                                "identities": identities_of}),
                 status=201),
        Endpoint("DELETE", "customers/{customer}/identities/{platform}/{handle}", unlink, WRITE,
                 "Remove a customer's handle.",
                 response_schema=closed_object({"identities": identities_of})),
        Endpoint("GET", "mentions", mentions, READ,
                 "Mentions posted up to as_of, newest first, with their sentiment label.",
                 query_schema=closed_object({"customer": TEXT, "label": TEXT, "since": INSTANT,
                                             "as_of": INSTANT,
                                             "limit": {"type": "integer", "minimum": 1,
                                                       "maximum": 1000, "default": 100}}),
                 response_schema={"type": "array", "items": MENTION}),
        Endpoint("POST", "mentions", import_mentions, WRITE,
                 "Import one mention or a list (all checked first; nothing stored if any is "
                 "bad; a known post is updated, never duplicated).",
                 body_schema={"oneOf": [mention_in, {"type": "array", "items": mention_in,
                                                     "minItems": 1,
                                                     "maxItems": MAX_MENTIONS}]},
                 response_schema=closed_object({"read": INTEGER, "created": INTEGER,
                                                "updated": INTEGER, "unchanged": INTEGER,
                                                "alerts": INTEGER}),
                 status=201),
        Endpoint("GET", "sentiment", sentiment, READ,
                 "Mentions per sentiment label posted in [since, as_of].",
                 query_schema=closed_object({"since": INSTANT, "as_of": INSTANT}),
                 response_schema=closed_object({"mentions": INTEGER, "positive": INTEGER,
                                                "neutral": INTEGER, "negative": INTEGER,
                                                "average": {"type": ["number", "null"]},
                                                "unscored": INTEGER})),
        Endpoint("POST", "customers/{customer}/referral-code", referral_code, WRITE,
                 "The customer's referral code (created on the first request).",
                 response_schema=closed_object({"customer": TEXT, "code": TEXT})),
        Endpoint("POST", "referrals", redeem_referral, WRITE,
                 "A new customer redeems a referral code (once; never a self-referral).",
                 body_schema=closed_object({"code": TEXT, "referee": {
                     **TEXT, "description": "The new customer's external id."}},
                     ("code", "referee")),
                 response_schema=REFERRAL, status=201),
        Endpoint("GET", "referrals", referrals, READ,
                 "Referrals redeemed up to as_of, with whether each converted, a page at a "
                 "time.",
                 query_schema=report_query(), response_schema=report_page_schema(REFERRAL)),
    ]
