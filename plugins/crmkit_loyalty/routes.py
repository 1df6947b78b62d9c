"""loyalty's HTTP routes, mounted under ``/api/v1/loyalty/``.

A member's standing and statement, tiers, rewards and liability to read;
redeeming a reward, adjusting points by hand and adding a reward to write.
Every handler calls the public API (``call.api()``), which holds the rules.
"""

from __future__ import annotations

from crmkit.plugin import (AS_OF_INSTANT, DECIMAL, INSTANT, INTEGER, OPTIONAL_INSTANT,
                           OPTIONAL_TEXT, TEXT, Endpoint, KeyedPage, closed_object, id_key,
                           jsonable, keyed_query, report_page_schema, timestamp_or_none)

READ = "loyalty.read"
WRITE = "loyalty.write"
REDEEM = "loyalty.redeem"
ADJUST = "loyalty.adjust"

PERMISSIONS = {
    READ: "See members' points, statements, tiers, rewards and the points liability.",
    WRITE: "Manage the rewards catalogue.",
    REDEEM: "Redeem a reward for a member (spends their points).",
    ADJUST: "Add or deduct a member's points by hand (audited).",
}

AS_OF = {"type": "object", "additionalProperties": False,
         "properties": {"as_of": AS_OF_INSTANT}}


MEMBER = closed_object({"external_id": TEXT, "tier": OPTIONAL_TEXT, "joined_at": INSTANT,
                        "review_at": INSTANT, "purchases": INTEGER, "balance": INTEGER,
                        "available": INTEGER, "locked": INTEGER, "owed": INTEGER})
STATEMENT_LINE = closed_object({"id": INTEGER, "at": INSTANT, "type": TEXT, "source": TEXT,
                                "points": INTEGER, "balance": INTEGER, "owed_change": INTEGER,
                                "reason": OPTIONAL_TEXT, "expires_at": OPTIONAL_INSTANT})
REWARD = closed_object({"code": TEXT, "name": TEXT, "points": INTEGER,
                        "stock": {"type": ["integer", "null"]}, "active": {"type": "boolean"}})


def _as_of(call):
    return timestamp_or_none(call.query.get("as_of"), "as_of")


def member(call):
    return jsonable(call.api().member(call.path_params["customer"], _as_of(call)))


def statement(call):
    page = KeyedPage.of(call, parse=id_key)
    lines = call.api().statement(call.path_params["customer"], _as_of(call), after=page.after,
                                 limit=page.limit + 1)
    return page.answer(call, lines, key_of=lambda line: line.id, key=None)


def tiers(call):
    return jsonable(call.api().tiers())


def rewards(call):
    return jsonable(call.api().rewards())


def add_reward(call):
    b = call.body
    return jsonable(call.api().add_reward(b["code"], b["points"], b.get("stock"), b.get("name")))


def liability(call):
    return jsonable(call.api().liability(_as_of(call)))


def redeem(call):
    customer = call.path_params["customer"]
    ledger_id = call.api().redeem(customer, call.body["reward"])
    return {"ledger_id": ledger_id, "member": jsonable(call.api().member(customer))}


def adjust(call):
    customer = call.path_params["customer"]
    ledger_id = call.api().adjust(customer, call.body["points"], call.body["reason"])
    return {"ledger_id": ledger_id, "member": jsonable(call.api().member(customer))}


def endpoints() -> list[Endpoint]:
    """loyalty's endpoints (the ``crmkit_routes`` answer)."""
    posted = closed_object({"ledger_id": INTEGER, "member": MEMBER})
    return [
        Endpoint("GET", "members/{customer}", member, READ,
                 "A member's standing: tier, balance, available, locked and owed points.",
                 query_schema=AS_OF, response_schema=MEMBER),
        Endpoint("GET", "members/{customer}/statement", statement, READ,
                 "A member's ledger with the running balance, in the order written, a page at "
                 "a time.",
                 query_schema=keyed_query({"as_of": AS_OF_INSTANT}),
                 response_schema=report_page_schema(STATEMENT_LINE)),
        Endpoint("POST", "members/{customer}/redeem", redeem, REDEEM,
                 "Redeem a reward now (spends the member's points, oldest first).",
                 body_schema=closed_object(
                     {"reward": {**TEXT, "description": "The reward's code."}}, ("reward",)),
                 response_schema=posted, status=201),
        Endpoint("POST", "members/{customer}/adjust", adjust, ADJUST,
                 "Add (positive) or deduct (negative) points by hand, with a reason.",
                 body_schema=closed_object({"points": INTEGER, "reason": TEXT},
                                           ("points", "reason")),
                 response_schema=posted, status=201),
        Endpoint("GET", "tiers", tiers, READ,
                 "The configured tiers, lowest first, with their member counts.",
                 response_schema={"type": "array", "items": closed_object({
                     "name": TEXT, "threshold": DECIMAL, "multiplier": DECIMAL,
                     "members": INTEGER})}),
        Endpoint("GET", "rewards", rewards, READ, "The rewards catalogue.",
                 response_schema={"type": "array", "items": REWARD}),
        Endpoint("POST", "rewards", add_reward, WRITE, "Add a reward to the catalogue.",
                 body_schema=closed_object({"code": TEXT, "points": INTEGER,
                                            "stock": {"type": ["integer", "null"]}, "name": TEXT},
                                           ("code", "points")),
                 response_schema=REWARD, status=201),
        Endpoint("GET", "liability", liability, READ,
                 "Outstanding points and their cost per tier.",
                 query_schema=AS_OF,
                 response_schema={"type": "array", "items": closed_object({
                     "tier": OPTIONAL_TEXT, "members": INTEGER, "points": INTEGER,
                     "liability": DECIMAL})}),
    ]
