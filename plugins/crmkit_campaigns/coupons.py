"""Coupons: codes with a value, an expiry and use rules, redeemed by purchases.

A campaign's *offer* (``campaigns_offers``) says what its coupons are worth
(an amount or a percentage), how long they are valid and whether each
recipient gets a unique code (one use) or everyone shares one code (once per
customer, at most ``max_uses`` in all).  Codes are issued when a recipient's
message is rendered (:func:`issue_for`), or at once for the recipients planned
so far when the offer is set (:func:`set_offer`).  A loyalty reward can be a
coupon: the ``coupons.rewards`` setting names the rewards that issue one when
redeemed (the ``reward.redeemed`` event, so neither plugin imports the other).

A purchase redeems a coupon by naming it in ``payload.coupon``: the write
pipeline refuses an unknown, expired, used or someone else's code with a row
error on that field (:func:`problems`), and records the redemption in the same
transaction (:func:`redeem`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any, Sequence

import attrs
from sqlalchemy import func, insert, select, update

from crmkit.plugin import (ConflictError, JsonPath, NotFound, ValidationError, customers,
                           insert_rows, interactions, to_currency, to_money)

from .settings import RewardCoupon
from .tables import campaigns, coupons, offers, recipients, redemptions

KINDS = ("amount", "percent")
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Code characters: no 0/O or 1/I, so a code read aloud or typed from print survives."""
CODE_LENGTH = 10
MAX_CODE = 60
IN_CHUNK = 1000
"""Most customer ids in one ``IN`` list (a campaign may have 100,000 recipients)."""


@attrs.frozen
class Offer:
    """What a campaign's coupons are worth and how they may be used."""

    kind: str
    value: Decimal
    currency: str | None
    valid_days: int | None
    expires_at: dt.datetime | None
    shared_code: str | None
    max_uses: int | None


@attrs.frozen
class Coupon:
    """One issued code with its use so far."""

    code: str
    campaign: str | None
    customer: str | None
    kind: str
    value: Decimal
    currency: str | None
    expires_at: dt.datetime | None
    max_uses: int | None
    uses: int
    source: str
    issued_at: dt.datetime


def check_offer(kind: str, value: Any, currency: str | None, valid_days: int | None,
                expires_at: dt.datetime | None, shared_code: str | None,
                max_uses: int | None) -> Offer:
    """The offer, or a ValidationError naming the first bad option."""
    if kind not in KINDS:
        raise ValidationError(f"coupon kind {kind!r}: allowed {', '.join(KINDS)}")
    amount = to_money(value, "coupon value")
    if amount <= 0 or (kind == "percent" and amount > 100):
        allowed = "more than 0 and at most 100" if kind == "percent" else "more than 0"
        raise ValidationError(f"coupon value {amount}: a {kind} must be {allowed}")
    if kind == "amount":
        currency = to_currency(currency, "coupon currency") if currency else None
    elif currency:
        raise ValidationError("coupon currency: only an amount coupon has a currency")
    if valid_days is not None and valid_days < 1:
        raise ValidationError(f"coupon valid days {valid_days}: must be at least 1")
    if valid_days is not None and expires_at is not None:
        raise ValidationError("coupon expiry: give valid days or an expiry date, not both")
    if max_uses is not None and max_uses < 1:
        raise ValidationError(f"coupon max uses {max_uses}: must be at least 1")
    if max_uses is not None and shared_code is None:
        raise ValidationError("coupon max uses: a unique code is used once; max uses is for "
                              "a shared code")
    if shared_code is not None:
        shared_code = _check_code(shared_code)
    return Offer(kind, amount, currency, valid_days, expires_at, shared_code, max_uses)


def _check_code(code: str) -> str:
    text = code.strip().upper() if isinstance(code, str) else ""
    if not text or len(text) > MAX_CODE or not all(ch.isalnum() or ch in "-_" for ch in text):
        raise ValidationError(f"coupon code {code!r}: 1 to {MAX_CODE} letters, digits, '-' "
                              "or '_'")
    return text


def new_code(prefix: str = "") -> str:
    """A random code (about 50 bits), optionally after ``prefix`` and a dash."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{prefix}-{body}" if prefix else body


def offer_of(conn, campaign_id: int) -> Offer | None:
    """The campaign's offer, or None when its messages carry no coupon."""
    o = offers.c
    row = conn.execute(select(o.kind, o.value, o.currency, o.valid_days, o.expires_at,
                              o.shared_code, o.max_uses)
                       .where(o.campaign_id == campaign_id)).first()
    return None if row is None else Offer(*row)


def set_offer(tx, campaign_id: int, name: str, offer: Offer) -> int:
    """Store (or replace) the campaign's offer and issue codes to the recipients planned so
    far; return how many codes were issued.  An offer whose codes were redeemed is kept."""
    used = tx.conn.execute(select(func.count()).select_from(redemptions)
                           .join(coupons, coupons.c.id == redemptions.c.coupon_id)
                           .where(coupons.c.campaign_id == campaign_id)).scalar_one()
    if used:
        raise ConflictError(f"campaign {name!r}: its coupons were redeemed {used} time(s); "
                            "the offer cannot change now")
    if offer.shared_code is not None:
        taken = tx.conn.execute(select(coupons.c.campaign_id).where(
            coupons.c.code == offer.shared_code)).first()
        if taken is not None and taken[0] != campaign_id:
            raise ConflictError(f"coupon code {offer.shared_code!r} is already in use")
    tx.conn.execute(coupons.delete().where(coupons.c.campaign_id == campaign_id))
    tx.conn.execute(offers.delete().where(offers.c.campaign_id == campaign_id))
    tx.conn.execute(insert(offers), {"campaign_id": campaign_id, **attrs.asdict(offer),
                                     "created_at": tx.now()})
    tx.audit("update", "campaigns_offers", name, {k: str(v) if v is not None else None
                                                 for k, v in attrs.asdict(offer).items()})
    planned = [cid for (cid,) in tx.conn.execute(
        select(recipients.c.customer_id).where(recipients.c.campaign_id == campaign_id,
                                               recipients.c.holdout.is_(False)))]
    return len(issue_for(tx, campaign_id, planned))


def issue_for(tx, campaign_id: int, customer_ids: Sequence[int]) -> dict[int, str]:
    """The campaign's coupon code for each of ``customer_ids``, issuing those not issued yet
    (one executemany); empty when the campaign has no offer.  A shared code is issued once."""
    offer = offer_of(tx.conn, campaign_id)
    if offer is None or not customer_ids:
        return {}
    now = tx.now()
    expires = offer.expires_at or (now + dt.timedelta(days=offer.valid_days)
                                   if offer.valid_days else None)
    base = {"campaign_id": campaign_id, "kind": offer.kind, "value": offer.value,
            "currency": offer.currency, "expires_at": expires, "uses": 0,
            "source": "campaign", "issued_at": now}
    c = coupons.c
    if offer.shared_code is not None:
        if tx.conn.execute(select(c.id).where(c.code == offer.shared_code)).first() is None:
            tx.conn.execute(insert(coupons), {**base, "code": offer.shared_code,
                                              "customer_id": None, "max_uses": offer.max_uses})
        return {cid: offer.shared_code for cid in customer_ids}
    wanted = list(dict.fromkeys(customer_ids))
    codes: dict[int, str] = {}
    for start in range(0, len(wanted), IN_CHUNK):  # bounded IN lists, whatever the audience
        codes.update(tx.conn.execute(select(c.customer_id, c.code).where(
            c.campaign_id == campaign_id,
            c.customer_id.in_(wanted[start:start + IN_CHUNK]))).all())
    prefix = _prefix(tx.conn, campaign_id)
    new = [{**base, "code": new_code(prefix), "customer_id": cid, "max_uses": 1}
           for cid in wanted if cid not in codes]
    insert_rows(tx.conn, coupons, new)
    codes.update((row["customer_id"], row["code"]) for row in new)
    return {cid: codes[cid] for cid in customer_ids}


def _prefix(conn, campaign_id: int) -> str:
    name = conn.execute(select(campaigns.c.name).where(campaigns.c.id == campaign_id)).scalar_one()
    letters = "".join(ch for ch in name.upper() if ch.isascii() and ch.isalnum())
    return letters[:8]


def issue_reward_coupons(ctx, rewards: dict[str, RewardCoupon], events: Sequence[Any]) -> int:
    """Issue a coupon to each member whose redeemed loyalty reward is configured as one
    (``coupons.rewards``); emit ``coupon.issued`` with the code.  Return how many."""
    rows = []
    now = ctx.now()
    for event in events:
        coupon = rewards.get(event.payload.get("reward"))
        if coupon is None or event.customer_id is None:
            continue
        days = coupon.valid_days
        rows.append({"code": new_code("REWARD"), "campaign_id": None,
                     "customer_id": event.customer_id, "kind": coupon.kind,
                     "value": coupon.value, "currency": coupon.currency,
                     "expires_at": now + dt.timedelta(days=days) if days else None,
                     "max_uses": 1, "uses": 0,
                     "source": f"loyalty reward {event.payload['reward']}", "issued_at": now})
    insert_rows(ctx.conn, coupons, rows)
    for row in rows:
        ctx.emit("coupon.issued", row["customer_id"], {
            "code": row["code"], "kind": row["kind"], "value": str(row["value"]),
            "source": row["source"]})
    return len(rows)


def listing(conn, campaign_id: int | None = None, customer_id: int | None = None,
            after: str | None = None, limit: int | None = None) -> list[Coupon]:
    """Issued coupons (of one campaign or customer, or all), by code: with ``after``, only
    those whose code sorts after it; with ``limit``, at most that many."""
    c = coupons.c
    query = (select(c.code, campaigns.c.name, customers.c.external_id, c.kind, c.value,
                    c.currency, c.expires_at, c.max_uses, c.uses, c.source, c.issued_at)
             .outerjoin(campaigns, campaigns.c.id == c.campaign_id)
             .outerjoin(customers, customers.c.id == c.customer_id).order_by(c.code))
    if campaign_id is not None:
        query = query.where(c.campaign_id == campaign_id)
    if customer_id is not None:
        query = query.where(c.customer_id == customer_id)
    if after is not None:
        query = query.where(c.code > after)
    return [Coupon(*row) for row in conn.execute(query.limit(limit))]


def problems(conn, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """Row problems of the purchases naming a coupon (``payload.coupon``): not text, unknown,
    expired when bought, an amount in another currency, issued to another customer, or used
    up (counting earlier rows of the same batch)."""
    wanted: dict[int, str] = {}
    found: list[tuple[int, str, str]] = []
    for index, row in enumerate(rows):
        payload = row.get("payload") or {}
        if row.get("kind") != "purchase" or "coupon" not in payload:
            continue
        code = payload["coupon"]
        if not isinstance(code, str) or not code.strip():
            found.append((index, "payload.coupon", f"{code!r} is not a coupon code (text)"))
        else:
            wanted[index] = code.strip().upper()
    if not wanted:
        return found
    c = coupons.c
    known = {row.code: row for row in conn.execute(
        select(c.id, c.code, c.customer_id, c.expires_at, c.max_uses, c.uses, c.value,
               c.currency)
        .where(c.code.in_(sorted(set(wanted.values())))))}
    shared = [row.id for row in known.values() if row.customer_id is None]
    used_by = set()
    if shared:
        used_by = set(conn.execute(select(redemptions.c.coupon_id, redemptions.c.customer_id)
                                   .where(redemptions.c.coupon_id.in_(shared))).all())
    uses_here: dict[str, int] = {}
    customers_here: set[tuple[str, Any]] = set()
    for index, code in wanted.items():
        row, customer_id = known.get(code), rows[index].get("customer_id")
        if row is None:
            found.append((index, "payload.coupon", f"unknown coupon {code!r}"))
        elif row.expires_at is not None and rows[index]["occurred_at"] > row.expires_at:
            found.append((index, "payload.coupon", f"coupon {code!r} expired at "
                          f"{row.expires_at.isoformat()}, before this purchase"))
        elif row.currency is not None and rows[index].get("currency") != row.currency:
            found.append((index, "payload.coupon", f"coupon {code!r} is worth {row.value} "
                          f"{row.currency}; this purchase is in {rows[index].get('currency')}"))
        elif row.customer_id is not None and row.customer_id != customer_id:
            found.append((index, "payload.coupon", f"coupon {code!r} was issued to another "
                          "customer"))
        elif row.customer_id is None and ((row.id, customer_id) in used_by
                                          or (code, customer_id) in customers_here):
            found.append((index, "payload.coupon", f"coupon {code!r} was already used by this "
                          "customer (a shared code is used once per customer)"))
        elif row.max_uses is not None and row.uses + uses_here.get(code, 0) >= row.max_uses:
            found.append((index, "payload.coupon", f"coupon {code!r} has already been used"
                          + (f" {row.max_uses} times (its limit)" if row.max_uses > 1 else "")))
        else:
            uses_here[code] = uses_here.get(code, 0) + 1
            customers_here.add((code, customer_id))
    return found


def names_a_coupon(row: dict) -> bool:
    """Whether an interaction row (as written) is a purchase whose ``payload.coupon`` is text:
    the only rows :func:`redeem` can match."""
    return row["kind"] == "purchase" and isinstance((row.get("payload") or {}).get("coupon"), str)


def redeem(ctx, batch) -> int:
    """Record the redemptions of the batch's purchases (one INSERT … SELECT) and count the
    uses; a concurrent redemption that used a code up meanwhile is a ConflictError (the
    batch rolls back).  Return how many coupons were redeemed."""
    i = interactions.c
    code = JsonPath(i.payload, ["coupon"]).text()
    in_batch = i.id.between(batch.first_id, batch.last_id)
    chosen = (select(coupons.c.id, i.customer_id, i.id, i.occurred_at)
              .join(coupons, coupons.c.code == func.upper(func.trim(code)))
              .where(in_batch, i.kind == "purchase"))
    inserted = ctx.conn.execute(insert(redemptions).from_select(
        ["coupon_id", "customer_id", "interaction_id", "redeemed_at"], chosen)).rowcount
    if not inserted:
        return 0
    r = redemptions.c
    new_uses = (select(func.count()).where(r.coupon_id == coupons.c.id,
                                           r.interaction_id.between(batch.first_id, batch.last_id))
                .scalar_subquery())
    touched = select(r.coupon_id).where(r.interaction_id.between(batch.first_id, batch.last_id))
    ctx.conn.execute(update(coupons).where(coupons.c.id.in_(touched))
                     .values(uses=coupons.c.uses + new_uses))
    over = ctx.conn.execute(select(coupons.c.code).where(
        coupons.c.id.in_(touched), coupons.c.max_uses.is_not(None),
        coupons.c.uses > coupons.c.max_uses)).scalars().first()
    if over is not None:
        raise ConflictError(f"coupon {over!r} was used up by another purchase meanwhile; "
                            "nothing was written")
    return inserted


def campaign_id_of(conn, name: str) -> int:
    """The id of campaign ``name``, or NotFound."""
    found = conn.execute(select(campaigns.c.id).where(campaigns.c.name == name)).first()
    if found is None:
        raise NotFound(f"no campaign {name!r} (see `crmkit campaigns list`)")
    return found[0]


__all__ = ["Offer", "Coupon", "KINDS", "check_offer", "new_code", "offer_of", "set_offer",
           "issue_for", "issue_reward_coupons", "listing", "problems", "names_a_coupon", "redeem",
           "campaign_id_of"]
