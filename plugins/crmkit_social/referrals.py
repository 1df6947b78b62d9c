"""Referrals: unguessable codes, redemption rules, conversion on the referee's first purchase."""

from __future__ import annotations

import re
import secrets

import attrs
import datetime as dt
from typing import Callable
from sqlalchemy import and_, exists, func, insert, select, update

from crmkit.plugin import (
    ConflictError, NotFound, ValidationError, allocate_ids, customers, interactions,
)

from .settings import settings_of
from .tables import referral_codes, referrals

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""Code characters: digits and capitals without the look-alikes 0, O, 1, I and L."""


@attrs.frozen
class Referral:
    """A redeemed referral code."""

    id: int
    referrer_id: int
    referee_id: int
    code: str | None
    redeemed_at: dt.datetime
    converted_at: dt.datetime | None
    conversion_interaction_id: int | None


def new_code(length: int) -> str:
    """A random code of ``length`` characters from :data:`ALPHABET` (``secrets``, not ``random``)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise_code(code: str) -> str:
    """Codes are read case-insensitively, ignoring spaces and dashes."""
    return re.sub(r"[\s-]", "", code or "").upper()


def code_for(ctx, customer_id: int) -> str:
    """The customer's referral code, created on first request (oldest one after a merge)."""
    c = referral_codes.c
    code = ctx.conn.execute(select(c.code).where(c.customer_id == customer_id)
                            .order_by(c.created_at, c.code).limit(1)).scalar()
    if code is not None:
        return code
    length = settings_of(ctx).referral_code_length
    for _ in range(10):
        candidate = new_code(length)
        if ctx.conn.execute(select(c.code).where(c.code == candidate)).first() is None:
            ctx.conn.execute(insert(referral_codes), {"code": candidate, "customer_id": customer_id,
                                                      "created_at": ctx.now()})
            return candidate
    raise ConflictError(f"could not find an unused referral code of {length} characters; "
                        "raise referral_code_length")


def _digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")


def unknown_code(code: str) -> str:
    """The message of a code no customer holds (``code`` as given)."""
    return f"no referral code {code!r}"


def referrer_of(conn, code: str):
    """The customer (its ``customers`` row, a mapping) holding ``code``, read as
    :func:`normalise_code` does; NotFound (:func:`unknown_code`) when none does."""
    referrer = conn.execute(
        select(customers).join(referral_codes, referral_codes.c.customer_id == customers.c.id)
        .where(referral_codes.c.code == normalise_code(code))).mappings().first()
    if referrer is None:
        raise NotFound(unknown_code(code))
    return referrer


def redeem(ctx, code: str, referee, may_name: Callable[[str], bool] | None = None
           ) -> Referral:
    """Link ``referee`` (a Customer) to the code's owner, enforcing every redemption rule.

    Refused: an unknown code; self-referral (the same customer, or the same
    email or phone as the referrer); a referee already referred (naming who referred
    them only if ``may_name(their external id)``, by default always); a referee who
    became a customer more than ``referral_redeem_days`` ago or already has
    purchases (referrals are for new customers).
    """
    wanted = normalise_code(code)
    referrer = referrer_of(ctx.conn, code)
    who = f"customer {referee.external_id!r}"
    if referee.erased_at is not None:
        raise ValidationError(f"{who} was erased")
    if referrer["id"] == referee.id:
        raise ValidationError(f"{who} cannot redeem their own referral code")
    if referee.email and referrer["email"] and \
            referee.email.strip().lower() == referrer["email"].strip().lower():
        raise ValidationError(f"{who} has the same email as the referrer "
                              f"{referrer['external_id']!r}: self-referral refused")
    if _digits(referee.phone) and _digits(referee.phone) == _digits(referrer["phone"]):
        raise ValidationError(f"{who} has the same phone as the referrer "
                              f"{referrer['external_id']!r}: self-referral refused")
    r = referrals.c
    earlier = ctx.conn.execute(select(r.redeemed_at, customers.c.external_id)
                               .join(customers, customers.c.id == r.referrer_id)
                               .where(r.referee_id == referee.id)).first()
    if earlier is not None:
        named = may_name is None or may_name(earlier.external_id)
        by = f" by {earlier.external_id!r}" if named else ""
        raise ConflictError(f"{who} was already referred{by} on "
                            f"{earlier.redeemed_at:%Y-%m-%d}; a customer is referred once")
    now = ctx.now()
    days = settings_of(ctx).referral_redeem_days
    if referee.created_at is not None and referee.created_at < now - dt.timedelta(days=days):
        raise ValidationError(f"{who} became a customer on {referee.created_at:%Y-%m-%d}; codes "
                              f"can be redeemed within {days} days of joining")
    purchased = ctx.conn.execute(select(interactions.c.id).where(
        interactions.c.customer_id == referee.id, interactions.c.kind == "purchase").limit(1)).first()
    if purchased is not None:
        raise ValidationError(f"{who} already has purchases; referral codes are for new customers")
    row = {"id": allocate_ids(ctx.conn, referrals, 1), "referrer_id": referrer["id"],
           "referee_id": referee.id, "code": wanted, "redeemed_at": now, "converted_at": None,
           "conversion_interaction_id": None}
    ctx.conn.execute(insert(referrals), row)
    ctx.audit("redeem", "social_referrals", str(row["id"]),
              {"code": wanted}, customer_id=referee.id)  # the referee's record: no referrer data
    ctx.emit("referral.redeemed", referrer["id"],
             {"referrer_id": referrer["id"], "referee_id": referee.id, "referral_id": row["id"]})
    return Referral(**row)


def convert_batch(ctx, batch) -> int:
    """React hook: the referee's first purchase (at or after redemption) converts the referral, once.

    One UPDATE for the batch, then ``referral.converted`` per converted referral.
    """
    i, r = interactions.c, referrals.c
    purchase = and_(i.customer_id == r.referee_id, i.id.between(batch.first_id, batch.last_id),
                    i.kind == "purchase", i.occurred_at >= r.redeemed_at)
    first_id = select(func.min(i.id)).where(purchase).scalar_subquery()
    ctx.conn.execute(update(referrals)
                     .where(r.converted_at.is_(None), exists(select(i.id).where(purchase)))
                     .values(conversion_interaction_id=first_id, converted_at=ctx.now()))
    converted = ctx.conn.execute(
        select(r.id, r.referrer_id, r.referee_id, r.conversion_interaction_id)
        .where(r.conversion_interaction_id.between(batch.first_id, batch.last_id))
        .order_by(r.id)).all()
    for row in converted:
        ctx.emit("referral.converted", row.referrer_id,
                 {"referrer_id": row.referrer_id, "referee_id": row.referee_id,
                  "interaction_id": row.conversion_interaction_id, "referral_id": row.id})
    return len(converted)
