"""Consent per channel, with its source and time; the check every outbound contact makes.

``consents`` holds the current decision per (customer, channel); each change
is also written to the audit log (old → new, actor, command) and emitted as
``consent.changed``, so the history is kept.  A channel with no decision
counts as *not* consented.  Channels are named in lower case (:func:`consent_channel`):
a withdrawal on ``Email`` withdraws the consent to ``email``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import insert, select, update

from .. import tables
from ..errors import ConsentError, NotFound, ValidationError
from ..types import IDENTIFIER, LINE, TextLimit, clean_text, text_limit

MAX_CHANNEL = 40
MAX_SOURCE = 200


@attrs.frozen
class Consent:
    """A customer's current decision on one channel."""

    channel: str
    granted: bool
    source: str
    recorded_at: dt.datetime


def consent_channel(value: Any, field: str = "consent channel") -> str:
    """The name consent on channel ``value`` is recorded and checked under: without
    surrounding spaces and in lower case (``" Email "`` is ``email``), identifier text of at
    most :data:`MAX_CHANNEL` characters; one ValidationError naming ``field`` otherwise.
    Every consent write and check names its channel so, and so must a plugin storing a
    channel it checks consent on."""
    return _text(value, field, TextLimit(MAX_CHANNEL, False), IDENTIFIER).lower()


def set_consent(crm, external_id: str, channel: str, granted: bool, source: str) -> Consent:
    """Record that the customer granted (or withdrew) consent to contact on ``channel``
    (named by :func:`consent_channel`)."""
    channel = consent_channel(channel)
    source = _text(source, "consent source", text_limit(crm, MAX_SOURCE), LINE)
    if not isinstance(granted, bool):
        raise ValidationError(f"consent granted: expected true or false, got {granted!r}")
    c = tables.consents
    with crm.transaction() as tx:
        customer = _customer(tx.conn, tables.customers.c.external_id == external_id,
                             repr(external_id))
        if customer.erased_at is not None:
            raise ValidationError(f"customer {external_id!r} was erased: consent cannot be "
                                  "recorded")
        old = tx.conn.execute(select(c.c.granted, c.c.source).where(
            c.c.customer_id == customer.id, c.c.channel == channel)).first()
        now = tx.now()
        values = {"granted": granted, "source": source, "recorded_at": now}
        if old is None:
            tx.conn.execute(insert(c), dict(values, customer_id=customer.id, channel=channel))
        else:
            tx.conn.execute(update(c).where(c.c.customer_id == customer.id,
                                            c.c.channel == channel).values(**values))
        tx.audit("consent", "consents", external_id, {
            "channel": channel,
            "granted": [None if old is None else old.granted, granted],
            "source": [None if old is None else old.source, source],
        }, customer_id=customer.id)
        tx.emit("consent.changed", customer.id, {"external_id": external_id, "channel": channel,
                                                 "granted": granted})
    return Consent(channel, granted, source, now)


def consents(crm, customer_id: int) -> list[Consent]:
    """The customer's current decisions, by channel."""
    c = tables.consents
    with crm.read() as conn:
        rows = conn.execute(select(c).where(c.c.customer_id == customer_id)
                            .order_by(c.c.channel)).mappings()
        return [Consent(r["channel"], r["granted"], r["source"], r["recorded_at"]) for r in rows]


def has_consent(crm, customer_id: int, channel: str) -> bool:
    """True when the customer's latest decision on ``channel`` (:func:`consent_channel`) is
    a grant (and not erased)."""
    channel = consent_channel(channel)
    c = tables.consents
    cu = tables.customers
    with crm.read() as conn:
        granted = conn.execute(
            select(c.c.granted).join(cu, cu.c.id == c.c.customer_id)
            .where(c.c.customer_id == customer_id, c.c.channel == channel,
                   cu.c.erased_at.is_(None))).scalar()
    return bool(granted)


def require_consent(crm, customer_id: int, channel: str) -> None:
    """Raise :class:`ConsentError` naming customer and channel unless contact is consented.

    Every plugin calls this before an outbound contact (a campaign message, an
    SMS reminder, a call list).  ``channel`` is named by :func:`consent_channel`.
    """
    channel = consent_channel(channel)
    c = tables.consents
    with crm.read() as conn:
        customer = _customer(conn, tables.customers.c.id == customer_id, f"with id {customer_id}")
        row = conn.execute(select(c).where(c.c.customer_id == customer_id,
                                           c.c.channel == channel)).mappings().first()
    who = f"customer {customer.external_id!r}"
    if customer.erased_at is not None:
        raise ConsentError(f"{who} was erased: no contact on channel {channel!r}")
    if row is None:
        raise ConsentError(f"{who} has not consented to contact on channel {channel!r} "
                           "(no consent recorded)")
    if not row["granted"]:
        raise ConsentError(f"{who} has not consented to contact on channel {channel!r} "
                           f"(withdrawn {row['recorded_at']:%Y-%m-%d %H:%M} UTC, source "
                           f"{row['source']!r})")


def _customer(conn, condition, what):
    row = conn.execute(select(tables.customers.c.id, tables.customers.c.external_id,
                              tables.customers.c.erased_at).where(condition)).first()
    if row is None:
        raise NotFound(f"no customer {what}")
    return row


def _text(value: Any, field: str, limit: TextLimit, rule: str) -> str:
    """``value`` without surrounding spaces, checked against the text ``rule`` and ``limit``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field}: required non-empty text")
    value = clean_text(value.strip(), field, rule)
    if problem := limit.problem(value):
        raise ValidationError(f"{field}: {problem}")
    return value


__all__ = ["Consent", "MAX_CHANNEL", "consent_channel", "consents", "has_consent",
           "require_consent", "set_consent"]
